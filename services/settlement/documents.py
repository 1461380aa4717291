"""A statement as a downloadable file: XLSX (openpyxl) and PDF (reportlab). Both draw the same
`statement_sheet.StatementSheet`; what they show is decided there.

The PDF's text is set in a CJK TrueType font installed from a Debian package (`shared.fonts`,
config PDF_FONT), embedded as a subset of the glyphs used, so every viewer shows it and
pdftotext reads it back.
"""

from __future__ import annotations

import io
from xml.sax.saxutils import escape

from services.settlement.statement_sheet import TITLE_EN, StatementSheet
from shared.fonts import FontFile, reportlab_font

HEADERS = ("序号 No.", "类别 Kind", "单据 Ref", "说明 Description", "结算标准 Tariff", "金额(元) Amount")
# glyphs a statement cannot do without: a font lacking any prints blanks where they belong
REQUIRED_GLYPHS = (
    "0123456789.,-:()/ ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz网点服务费月结算单合计人民币元角分整"
)
CURRENCY = "金额单位: 人民币元 (amounts in yuan)"


def _money(amount) -> str:
    return f"{amount:,.2f}"


def _header_pairs(sheet: StatementSheet) -> list[tuple[str, str, str, str]]:
    return [
        ("网点 Outlet", sheet.outlet, "结算单号 No.", sheet.number),
        ("结算期间 Period", sheet.period, "出具时间 Issued at", f"{sheet.issued_at} (北京时间)"),
        ("出具单位 Issuer", sheet.issuer, "经办 Issued by", sheet.issued_by),
        ("户名 Account holder", sheet.payee.holder, "状态 Status", sheet.status),
        ("开户行 Bank", sheet.payee.bank, "账号 Account no.", sheet.payee.account_no),
    ]


def _summary(sheet: StatementSheet) -> list[tuple[str, str]]:
    rows = [(label, _money(amount)) for label, amount in sheet.subtotals]
    rows += [
        ("合计 Total", _money(sheet.total)),
        ("已付 Paid", _money(sheet.paid)),
        ("未付 Outstanding", _money(sheet.outstanding)),
    ]
    return rows


# ---------------------------------------------------------------- XLSX
def xlsx(sheet: StatementSheet) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font

    wb = Workbook()
    ws = wb.active
    ws.title = sheet.period.split(" ")[0]  # 2026年11月
    ws.append([f"{sheet.title} {TITLE_EN}"])
    ws["A1"].font = Font(bold=True, size=14)
    for a, b, c, d in _header_pairs(sheet):
        ws.append([a, b, None, None, c, d])
    ws.append([CURRENCY])
    ws.append([])
    ws.append(list(HEADERS[:4]) + ["明细 Detail", HEADERS[4], HEADERS[5]])
    head = ws.max_row
    for cell in ws[head]:
        cell.font = Font(bold=True)
    wrap = Alignment(wrap_text=True, vertical="top")
    for line in sheet.lines:
        ws.append([line.seq, line.kind, line.ref, line.what, line.detail, line.basis, line.amount])
        for cell in ws[ws.max_row]:
            cell.alignment = wrap
        ws.cell(row=ws.max_row, column=7).number_format = "#,##0.00"
    ws.append([])
    for label, _ in _summary(sheet):
        amount = {"合计 Total": sheet.total, "已付 Paid": sheet.paid, "未付 Outstanding": sheet.outstanding}.get(label)
        if amount is None:
            amount = dict(sheet.subtotals)[label]
        ws.append([None, None, None, None, None, label, amount])
        ws.cell(row=ws.max_row, column=6).font = Font(bold=label.startswith("合计"))
        ws.cell(row=ws.max_row, column=7).number_format = "#,##0.00"
    ws.append([None, None, None, None, None, "合计大写 In words", sheet.total_in_words])
    ws.append([None, None, None, None, None, "结算方向 Settles as", sheet.direction])
    if sheet.payments:
        ws.append([])
        ws.append(["付款记录 Payments"])
        for at, reference, amount in sheet.payments:
            ws.append([None, at, reference, None, None, None, amount])
            ws.cell(row=ws.max_row, column=7).number_format = "#,##0.00"
    for col, width in zip("ABCDEFG", (9, 16, 24, 28, 44, 52, 16), strict=True):
        ws.column_dimensions[col].width = width
    ws.freeze_panes = ws.cell(row=head + 1, column=1)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


# ---------------------------------------------------------------- PDF
def font_name(font: FontFile) -> str:
    """`font` registered with reportlab (shared.fonts.reportlab_font); FontMissing when it cannot
    print a statement."""
    return reportlab_font(font, REQUIRED_GLYPHS, "StatementCJK")


def pdf(sheet: StatementSheet, font: FontFile) -> bytes:
    from reportlab.lib import colors
    from reportlab.lib.enums import TA_CENTER, TA_RIGHT
    from reportlab.lib.pagesizes import A4, landscape
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.platypus import KeepTogether, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    name = font_name(font)
    text = ParagraphStyle("text", fontName=name, fontSize=8, leading=10.5)
    small = ParagraphStyle("small", parent=text, fontSize=6.8, leading=8.6, textColor=colors.HexColor("#444444"))
    label = ParagraphStyle("label", parent=text, textColor=colors.HexColor("#333333"))
    right = ParagraphStyle("right", parent=text, alignment=TA_RIGHT)
    title = ParagraphStyle("title", fontName=name, fontSize=18, leading=24, alignment=TA_CENTER)
    subtitle = ParagraphStyle("subtitle", parent=text, fontSize=9, alignment=TA_CENTER)

    def p(value, style=text):
        return Paragraph(escape(str(value)), style)

    page_w, _ = landscape(A4)
    margin = 36
    width = page_w - 2 * margin
    buf = io.BytesIO()
    doc = SimpleDocTemplate(
        buf,
        pagesize=landscape(A4),
        leftMargin=margin,
        rightMargin=margin,
        topMargin=margin,
        bottomMargin=margin + 10,
        title=f"{sheet.title} {sheet.outlet_name} {sheet.period}",
        author=sheet.issuer,
        subject=TITLE_EN,
        initialFontName=name,  # the canvas starts in the statement's font: no unembedded standard font
    )
    grid = colors.HexColor("#9a9a9a")

    def style(commands):  # every table in the statement's font, empty cells too
        return TableStyle([("FONTNAME", (0, 0), (-1, -1), name), *commands])

    shade = colors.HexColor("#ececec")

    header = Table(
        [[p(a, label), p(b), p(c, label), p(d)] for a, b, c, d in _header_pairs(sheet)],
        colWidths=[width * 0.13, width * 0.42, width * 0.13, width * 0.32],
    )
    header.setStyle(
        style(
            [
                ("BOX", (0, 0), (-1, -1), 0.6, grid),
                ("INNERGRID", (0, 0), (-1, -1), 0.3, grid),
                ("BACKGROUND", (0, 0), (0, -1), shade),
                ("BACKGROUND", (2, 0), (2, -1), shade),
                ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
            ]
        )
    )

    rows = [[p(h, label) for h in HEADERS]]
    for line in sheet.lines:
        what = f"{escape(line.what)}<br/><font size=6.8 color='#555555'>{escape(line.detail)}</font>"
        rows.append(
            [
                p(line.seq, right),
                p(line.kind),
                p(line.ref, small),
                Paragraph(what, text),
                p(line.basis, small),
                p(_money(line.amount), right),
            ]
        )
    if not sheet.lines:
        rows.append(["", "", "", p("本月无结算项目 (nothing to settle this month)"), "", ""])
    lines = Table(
        rows,
        colWidths=[w * width for w in (0.06, 0.10, 0.14, 0.30, 0.29, 0.11)],
        repeatRows=1,
    )
    lines.setStyle(
        style(
            [
                ("BOX", (0, 0), (-1, -1), 0.6, grid),
                ("INNERGRID", (0, 0), (-1, -1), 0.3, grid),
                ("BACKGROUND", (0, 0), (-1, 0), shade),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ]
        )
    )

    big = ParagraphStyle("big", parent=right, fontSize=10.5, leading=13)
    summary_rows = [
        [p(a, big), p(b, big)] if a.startswith("合计") else [p(a, right), p(b, right)] for a, b in _summary(sheet)
    ]
    total_row = next(i for i, (a, _) in enumerate(_summary(sheet)) if a.startswith("合计"))
    summary = Table(summary_rows, colWidths=[width * 0.17, width * 0.28])
    summary.setStyle(
        style(
            [
                ("LINEABOVE", (0, total_row), (-1, total_row), 0.8, colors.black),
                ("LINEBELOW", (0, total_row), (-1, total_row), 0.8, colors.black),
                ("BACKGROUND", (0, total_row), (-1, total_row), shade),
            ]
        )
    )

    story = [
        p(sheet.title, title),
        p(f"{TITLE_EN} · {sheet.period}", subtitle),
        Spacer(1, 10),
        header,
        Spacer(1, 4),
        p(CURRENCY, small),
        Spacer(1, 6),
        lines,
    ]
    # the signatures on the left of the summary: one block, kept on one page
    # on the left: the total in words, who pays whom, and where each side signs
    signatures = Table(
        [
            [p("合计大写 In words", label), p(sheet.total_in_words)],
            [p("结算方向 Settles as", label), p(sheet.direction)],
            [p("网点确认(签章) Outlet's confirmation:"), p("日期 Date:")],
            [p("中心审核(签章) Center's approval:"), p("日期 Date:")],
        ],
        colWidths=[width * 0.27, width * 0.23],
        rowHeights=[None, None, 34, 34],
    )
    signatures.setStyle(
        style(
            [
                ("VALIGN", (0, 0), (-1, -1), "BOTTOM"),
                ("LINEBELOW", (0, 2), (-1, -1), 0.5, grid),
                ("BACKGROUND", (0, 0), (-1, 0), shade),
            ]
        )
    )
    closing = Table([[signatures, summary]], colWidths=[width * 0.55, width * 0.45])
    closing.setStyle(style([("VALIGN", (0, 0), (-1, -1), "TOP"), ("LEFTPADDING", (0, 0), (-1, -1), 0)]))
    story += [Spacer(1, 8), KeepTogether([closing])]
    if sheet.payments:
        paid = Table(
            [[p("付款记录 Payments", label), "", ""]]
            + [[p(at), p(reference), p(_money(amount), right)] for at, reference, amount in sheet.payments],
            colWidths=[width * 0.15, width * 0.25, width * 0.1],
            hAlign="LEFT",
        )
        paid.setStyle(style([]))
        story += [Spacer(1, 6), paid]

    def footer(canvas, doc_):
        canvas.saveState()
        canvas.setFont(name, 7)
        canvas.setFillColor(colors.HexColor("#555555"))
        canvas.drawString(margin, margin * 0.6, f"{sheet.title} {sheet.number} · {sheet.outlet_name} · {sheet.period}")
        canvas.drawRightString(page_w - margin, margin * 0.6, f"第 {doc_.page} 页 Page {doc_.page}")
        canvas.restoreState()

    doc.build(story, onFirstPage=footer, onLaterPages=footer)
    return buf.getvalue()
