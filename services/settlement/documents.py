"""A statement as a downloadable file: XLSX (openpyxl) and PDF (reportlab, Chinese text in
the built-in STSong-Light CID font: no TTF font is needed on the machine)."""

from __future__ import annotations

import io
from decimal import Decimal

KIND_LABELS = {
    "claim": "服务费 claim",
    "hold_released": "解除暂扣 hold released",
    "adjustment": "调整 adjustment",
    "self_paid_share": "自费分成 self-paid share",
    "deduction": "扣款 deduction",
}
HEADERS = ("#", "类别 Kind", "单据 Ref", "说明 Description", "金额 Amount (元)", "标准条目 Tariff line", "规则 Rule")


def _title(st: dict) -> str:
    return f"网点月结算单 Outlet statement {st['outlet_id']} {st['month']}"


def xlsx(st: dict) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Font

    wb = Workbook()
    ws = wb.active
    ws.title = st["month"]
    ws.append([_title(st)])
    ws["A1"].font = Font(bold=True, size=13)
    ws.append(["结算单号 Statement", st["id"], "出具 Issued", st["issued_at"], "状态 Status", st["status"]])
    ws.append([])
    ws.append(list(HEADERS))
    for cell in ws[4]:
        cell.font = Font(bold=True)
    for line in st["lines"]:
        ws.append(
            [
                line["seq"],
                KIND_LABELS.get(line["kind"], line["kind"]),
                line["ref"],
                line["description"],
                Decimal(line["amount"]),
                line["tariff_line"],
                line["rule"],
            ]
        )
        ws.cell(row=ws.max_row, column=5).number_format = "#,##0.00"
    ws.append([])
    for label, key in (("合计 Total", "total"), ("已付 Paid", "paid"), ("未付 Outstanding", "outstanding")):
        ws.append(["", "", "", label, Decimal(st[key])])
        ws.cell(row=ws.max_row, column=4).font = Font(bold=True)
        ws.cell(row=ws.max_row, column=5).number_format = "#,##0.00"
    for col, width in zip("ABCDEFG", (5, 22, 36, 48, 16, 44, 24)):
        ws.column_dimensions[col].width = width
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


_FONT = None


def _font():
    global _FONT
    if _FONT is None:
        from reportlab.pdfbase import pdfmetrics
        from reportlab.pdfbase.cidfonts import UnicodeCIDFont

        pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
        _FONT = "STSong-Light"
    return _FONT


def pdf(st: dict) -> bytes:
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4, landscape
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    font = _font()
    small = ParagraphStyle("small", fontName=font, fontSize=7.5, leading=9.5)
    title = ParagraphStyle("title", fontName=font, fontSize=14, leading=18)
    buf = io.BytesIO()
    doc = SimpleDocTemplate(
        buf, pagesize=landscape(A4), leftMargin=28, rightMargin=28, topMargin=28, bottomMargin=28, title=_title(st)
    )
    rows = [[Paragraph(h, small) for h in HEADERS]]
    for line in st["lines"]:
        rows.append(
            [
                str(line["seq"]),
                Paragraph(KIND_LABELS.get(line["kind"], line["kind"]), small),
                Paragraph(line["ref"], small),
                Paragraph(line["description"], small),
                f"{Decimal(line['amount']):,.2f}",
                Paragraph(line["tariff_line"], small),
                Paragraph(line["rule"], small),
            ]
        )
    for label, key in (("合计 Total", "total"), ("已付 Paid", "paid"), ("未付 Outstanding", "outstanding")):
        rows.append(["", "", "", Paragraph(label, small), f"{Decimal(st[key]):,.2f}", "", ""])
    table = Table(rows, colWidths=[22, 80, 110, 190, 70, 170, 140], repeatRows=1)
    table.setStyle(
        TableStyle(
            [
                ("FONTNAME", (0, 0), (-1, -1), font),
                ("FONTSIZE", (0, 0), (-1, -1), 7.5),
                ("GRID", (0, 0), (-1, -4), 0.4, colors.grey),
                ("BACKGROUND", (0, 0), (-1, 0), colors.lightgrey),
                ("ALIGN", (4, 0), (4, -1), "RIGHT"),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ]
        )
    )
    story = [
        Paragraph(_title(st), title),
        Paragraph(f"结算单号 {st['id']} · 出具 {st['issued_at']} · 状态 {st['status']}", small),
        Spacer(1, 8),
        table,
    ]
    doc.build(story)
    return buf.getvalue()
