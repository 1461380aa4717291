"""The complaint handling report (投诉处理报告, seed 002: 6、做成"投诉处理报告"向客户及上司报告并存档留底).

Made at the case's `report` step (汇报): `snapshot` takes what the case says then (the complaint,
the responsibility and who decided it, HQ's ruling of a grey zone, the owner, the escalation, the
countermeasure and its follow-up date, every step with who, when and why) and the step's audit
entry keeps it, so the archived report stays as it was sent to the customer and the superior
whatever happens to the ticket afterwards. `pdf` prints a snapshot with the embedded CJK font
(shared.fonts), as settlement prints its statements.
"""

from __future__ import annotations

import io
from datetime import datetime
from typing import Any
from xml.sax.saxutils import escape

from shared.clock import LOCAL_TZ, as_utc
from shared.fonts import FontFile, reportlab_font

TITLE = "投诉处理报告"
REQUIRED_GLYPHS = "投诉处理报告责任对策0123456789ABCabc-:"
# the report's words for the codes it prints (the portal's labels name them alike)
RESPONSIBILITY = {"own": "本单位责任", "other_department": "其他部门责任", "grey_zone": "灰色地带（待总部裁定）"}
STEP_NAMES = {
    "register": "立案",
    "internal_check": "内查",
    "plan_dispatch": "派员预案",
    "verify_on_site": "现场核实",
    "negotiate": "商务谈判",
    "order_rectification": "开具整改单",
    "pay_compensation": "退赔款",
    "notify_result": "处理结果通知",
    "report": "汇报",
    "sign_agreement": "签协议或纪要",
    "close_case": "结案",
    "withdraw": "撤诉",
    "decide_responsibility": "确定责任范围",
    "rule_grey_zone": "总部裁定责任",
    "hand_over": "移交首问负责人",
    "record_countermeasure": "防止再发生对策",
    "escalate": "重大问题上报",
    "re_escalate": "逐级上报",
    "acknowledge_escalation": "确认上报",
}


def _local(value: datetime | None) -> str | None:
    at = as_utc(value)
    return at.astimezone(LOCAL_TZ).strftime("%Y-%m-%d %H:%M") if at else None


def snapshot(ticket: Any, trail: list[Any], made_at: datetime, made_by: str) -> dict[str, Any]:
    """What the report says, as JSON: the case now and its trail (the complaint's own steps)."""
    return {
        "number": ticket.number,
        "tenant_id": ticket.tenant_id,
        "customer_name": ticket.customer_name,
        "phone": ticket.phone,
        "address": ticket.address,
        "product": " ".join(x for x in (ticket.product_line, ticket.model, ticket.serial_no) if x),
        "fault": ticket.fault,
        "received_at": _local(ticket.received_at),
        "owner_user": ticket.owner_user,
        "responsibility": ticket.responsibility,
        "responsibility_by": ticket.responsibility_by,
        "grey_zone_ruled_by": ticket.grey_zone_ruled_by,
        "escalation_manager": ticket.escalation_manager,
        "escalation_acked_by": ticket.escalation_acked_by,
        "countermeasure": ticket.countermeasure,
        "follow_up_on": ticket.follow_up_on.isoformat() if ticket.follow_up_on else None,
        "made_at": _local(made_at),
        "made_by": made_by,
        "steps": [
            {"at": _local(e.at), "step": STEP_NAMES[e.action], "user": e.user, "note": e.note}
            for e in trail
            if e.action in STEP_NAMES and not (e.action == "register" and e.from_state is None)
        ],
    }


def facts(report: dict[str, Any]) -> list[tuple[str, str]]:
    """The report's header: label, value (— for none)."""
    responsibility = RESPONSIBILITY.get(report["responsibility"] or "", "未确定")
    if report["responsibility_by"]:
        responsibility += f"（{report['responsibility_by']} 确定"
        responsibility += f"，总部 {report['grey_zone_ruled_by']} 裁定）" if report["grey_zone_ruled_by"] else "）"
    escalation = report["escalation_manager"] or "—"
    if report["escalation_manager"]:
        escalation += f"（{report['escalation_acked_by']} 已确认）" if report["escalation_acked_by"] else "（未确认）"
    rows = [
        ("投诉单号", report["number"]),
        ("客户", report["customer_name"]),
        ("电话", report["phone"]),
        ("地址", report["address"]),
        ("产品", report["product"]),
        ("投诉内容", report["fault"]),
        ("受理时间", report["received_at"]),
        ("首问负责人", report["owner_user"]),
        ("责任范围", responsibility),
        ("重大问题上报", escalation),
        ("防止再发生对策", report["countermeasure"]),
        ("复查日期", report["follow_up_on"]),
        ("报告人 / 时间", f"{report['made_by']} / {report['made_at']}"),
    ]
    return [(k, str(v) if v else "—") for k, v in rows]


def pdf(report: dict[str, Any], font: FontFile) -> bytes:
    """The report as an A4 PDF, in `font` (FontMissing when it cannot print one)."""
    from reportlab.lib import colors
    from reportlab.lib.enums import TA_CENTER
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    name = reportlab_font(font, REQUIRED_GLYPHS, "ReportCJK")
    text = ParagraphStyle("text", fontName=name, fontSize=9, leading=12)
    title = ParagraphStyle("title", fontName=name, fontSize=18, leading=24, alignment=TA_CENTER)

    def p(value: object) -> Paragraph:
        return Paragraph(escape(str(value)), text)

    buf = io.BytesIO()
    margin = 42
    width = A4[0] - 2 * margin
    doc = SimpleDocTemplate(
        buf,
        pagesize=A4,
        leftMargin=margin,
        rightMargin=margin,
        topMargin=margin,
        bottomMargin=margin,
        title=f"{TITLE} {report['number']}",
        author=report["made_by"],
        initialFontName=name,
    )
    grid = colors.HexColor("#9a9a9a")
    style = TableStyle(
        [
            ("FONTNAME", (0, 0), (-1, -1), name),
            ("BOX", (0, 0), (-1, -1), 0.6, grid),
            ("INNERGRID", (0, 0), (-1, -1), 0.3, grid),
            ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ]
    )
    header = Table([[p(k), p(v)] for k, v in facts(report)], colWidths=[width * 0.2, width * 0.8])
    header.setStyle(style)
    rows = [[p("时间"), p("步骤"), p("经办"), p("说明")]]
    rows += [[p(s["at"]), p(s["step"]), p(s["user"]), p(s["note"] or "")] for s in report["steps"]]
    steps = Table(rows, colWidths=[width * w for w in (0.2, 0.18, 0.17, 0.45)], repeatRows=1)
    steps.setStyle(style)
    doc.build([Paragraph(TITLE, title), Spacer(1, 12), header, Spacer(1, 14), p("处理经过"), Spacer(1, 4), steps])
    return buf.getvalue()
