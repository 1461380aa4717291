"""The statement as a document: what its sheet shows (local time, tariff names, payee, capital
figures), and the PDF read back by poppler (pdftotext finds the Chinese text, pdffonts an
embedded subset font) and the XLSX read back by openpyxl."""

from __future__ import annotations

import io
from decimal import Decimal
from pathlib import Path

import pytest
from openpyxl import load_workbook

from services.settlement import documents
from services.settlement.statement_sheet import (
    account_groups,
    basis,
    local_stamp,
    period,
    rmb_capitals,
    statement_sheet,
    tariff_entry_name,
)
from services.settlement.tariff import TariffBook
from shared.fonts import DEFAULT_FONTS, FontFile, FontMissing, cjk_font
from shared.tenants import TenantDirectory
from tests.pdf_tools import pdf_fonts, pdf_text

# an issued statement as queries.statement_out gives it (the month test's, figures by hand)
STATEMENT = {
    "id": "ST07f4cfdec41b4ce5ba",
    "tenant_id": "C01",
    "outlet_id": "C01-O01",
    "month": "2026-11",
    "issued_at": "2026-12-03T06:05:42.843474+00:00",
    "issued_by": "wuhan-agent",
    "total": "1651.50",
    "paid": "1000.00",
    "outstanding": "651.50",
    "status": "partially_paid",
    "lines": [
        {
            "seq": 1,
            "kind": "claim",
            "ref": "CL71122aad0c134dd3b8",
            "description": "claim: visit 2026-11-05",
            "amount": "441.50",
            "tariff_line": "HQ-2026:labour/数控车床/repair/electrical,HQ-2026:visit_fee,HQ-2026:transport_bands/1",
            "rule": "claimed per tariff lines",
        },
        {
            "seq": 2,
            "kind": "adjustment",
            "ref": "CL71122aad0c134dd3b8",
            "description": "technical_lead adjusted: only an inspection was needed",
            "amount": "-41.50",
            "tariff_line": "audit",
            "rule": "audit:technical_lead",
        },
        {
            "seq": 3,
            "kind": "hold_released",
            "ref": "CL87f5b3a962ce409cb9",
            "description": "claim released from hold: visit 2026-11-08",
            "amount": "727.50",
            "tariff_line": "HQ-2026:labour/螺杆空压机/install,HQ-2026:visit_fee,HQ-2026:transport_bands/2,"
            "HQ-2026:parts_handling_fee",
            "rule": "claimed per tariff lines",
        },
        {
            "seq": 4,
            "kind": "claim",
            "ref": "CL1939af5d42754d1c81",
            "description": "claim: visit 2026-11-12",
            "amount": "690.00",
            "tariff_line": "HQ-2026:labour/立式加工中心/repair/hydraulic_thermal,HQ-2026:visit_fee,"
            "HQ-2026:transport_bands/3",
            "rule": "claimed per tariff lines",
        },
        {
            "seq": 5,
            "kind": "adjustment",
            "ref": "CL1939af5d42754d1c81",
            "description": "claimed above the tariff, capped: labour 520.00 > 484.00",
            "amount": "-36.00",
            "tariff_line": "tariff",
            "rule": "tariff_cap",
        },
        {
            "seq": 6,
            "kind": "deduction",
            "ref": "RMA-V401d21af3b7b",
            "description": "part P-0 (RMA RMA-V401d21af3b7b) returned late on 2026-11-20",
            "amount": "-30.00",
            "tariff_line": "HQ-2026:late_part_return_fee",
            "rule": "late_part_return",
        },
        {
            "seq": 7,
            "kind": "deduction",
            "ref": "Td1fd73372015:onsite",
            "description": "SLA onsite of ticket C01-X3 breached (due 2026-11-10 10:00)",
            "amount": "-100.00",
            "tariff_line": "HQ-2026:sla_deductions/onsite",
            "rule": "sla_breach:onsite",
        },
    ],
    "payments": [{"amount": "1000.00", "reference": "BANK-001", "paid_at": "2026-12-10T01:30:00+00:00"}],
}
DIRECTORY = TenantDirectory.load()
VERSIONS = {v.id: v.body for v in TariffBook.load().versions}


def sheet_of(st=STATEMENT, outlet_id="C01-O01"):
    return statement_sheet(st, DIRECTORY.outlets.get(outlet_id), DIRECTORY.centers["C01"].name, VERSIONS)


# ---------------------------------------------------------------- the sheet's rules
@pytest.mark.parametrize(
    ("amount", "words"),
    [
        ("1651.50", "人民币壹仟陆佰伍拾壹元伍角整"),
        ("1651.05", "人民币壹仟陆佰伍拾壹元零伍分"),
        ("1651.55", "人民币壹仟陆佰伍拾壹元伍角伍分"),
        ("1010.00", "人民币壹仟零壹拾元整"),
        ("100010.00", "人民币壹拾万零壹拾元整"),
        ("1000001.00", "人民币壹佰万零壹元整"),
        ("10001000.00", "人民币壹仟万壹仟元整"),
        ("100000001.00", "人民币壹亿零壹元整"),
        ("0.50", "人民币伍角整"),
        ("0.05", "人民币伍分"),
        ("0.00", "人民币零元整"),
        ("-88.30", "人民币负捌拾捌元叁角整"),
    ],
)
def test_total_in_capital_figures(amount, words):
    assert rmb_capitals(Decimal(amount)) == words


def test_times_are_local_to_the_minute():
    assert local_stamp("2026-12-03T06:05:42.843474+00:00") == "2026-12-03 14:05"
    assert local_stamp("2026-12-31T16:00:00+00:00") == "2027-01-01 00:00"  # the local day, not UTC's
    with pytest.raises(ValueError):
        local_stamp("2026-12-03T06:05:42")  # an instant without a zone is refused, not guessed
    assert period("2026-02") == "2026年2月 (2026-02-01 至 2026-02-28)"
    assert account_groups("4843457913485383059") == "4843 4579 1348 5383 059"


def test_tariff_lines_by_name():
    assert tariff_entry_name("HQ-2026:labour/数控车床/repair/electrical") == (
        "HQ-2026",
        "工时费·数控车床·维修(电气故障)",
    )
    assert tariff_entry_name("HQ-2025:labour/_default/install") == ("HQ-2025", "工时费·其他机型·安装")
    assert tariff_entry_name("HQ-2026:transport_bands/1", VERSIONS) == ("HQ-2026", "交通费(10–30公里)")
    assert tariff_entry_name("HQ-2026:transport_bands/5", VERSIONS) == ("HQ-2026", "交通费(200公里以上)")
    assert tariff_entry_name("HQ-2026:transport_bands/1") == ("HQ-2026", "交通费(第2档)")  # version unknown
    assert tariff_entry_name("HQ-2026:sla_deductions/onsite") == ("HQ-2026", "超时考核扣款·上门超时")
    assert tariff_entry_name("parts:unit_cost/P-0") == ("", "配件成本价 P-0")
    assert basis("HQ-2026:visit_fee,HQ-2026:parts_handling_fee") == "HQ-2026: 上门费；配件装卸费"
    assert basis("tariff") == "结算标准封顶"


def test_sheet_of_a_statement():
    sheet = sheet_of()
    assert sheet.outlet == "襄阳新阳特约服务站 (C01-O01)" and sheet.issuer == "武汉区域服务中心"
    assert (sheet.payee.holder, sheet.payee.bank, sheet.payee.account_no) == (
        "襄阳新阳机电设备服务有限公司",
        "中国建设银行襄阳襄城支行",
        "4843 4579 1348 5383 059",
    )
    assert sheet.issued_at == "2026-12-03 14:05"
    assert sheet.period == "2026年11月 (2026-11-01 至 2026-11-30)"
    assert [line.kind for line in sheet.lines] == ["服务费", "审核调整", "服务费(解除暂扣)", "服务费", "审核调整"] + [
        "考核扣款"
    ] * 2
    assert sheet.lines[6].what == "超时考核扣款(上门超时)" and sheet.lines[1].what == "技术主管审核调整"
    assert dict(sheet.subtotals) == {
        "服务费 Service fees": Decimal("1859.00"),
        "审核调整 Adjustments": Decimal("-77.50"),
        "考核扣款 Deductions": Decimal("-130.00"),
    }
    assert sum(amount for _, amount in sheet.subtotals) == sheet.total == Decimal("1651.50")
    assert sheet.total_in_words == "人民币壹仟陆佰伍拾壹元伍角整"
    assert sheet.direction.startswith("中心应付网点")
    assert sheet.payments == (("2026-12-10 09:30", "BANK-001", Decimal("1000.00")),)
    # an outlet the directory does not know: its id, and the payee is plainly not on file
    unknown = sheet_of(dict(STATEMENT, outlet_id="C01-O99"), "C01-O99")
    assert unknown.outlet == "C01-O99" and unknown.payee.bank.startswith("未登记")
    # deductions above the fees: the outlet owes the center, and the sheet says so
    owed = sheet_of(dict(STATEMENT, total="-95.60", lines=STATEMENT["lines"][5:6], paid="0.00", outstanding="-95.60"))
    assert owed.direction.startswith("网点应付中心") and owed.total_in_words == "人民币负玖拾伍元陆角整"


# ---------------------------------------------------------------- the files
def test_pdf_text_is_extractable_with_an_embedded_subset_font():
    data = documents.pdf(sheet_of(), cjk_font())
    fonts = pdf_fonts(data)
    assert fonts, "the PDF names no font"
    for font in fonts:  # every font embedded, as a subset: no viewer needs a language pack
        assert (font["emb"], font["sub"], font["uni"]) == ("yes", "yes", "yes"), fonts
    assert not any("STSong" in font["name"] for font in fonts)
    text, errors = pdf_text(data)
    assert "Missing language pack" not in errors and "Syntax Error" not in errors, errors
    squeezed = " ".join(text.split())
    for expected in (
        "网点服务费月结算单",
        "襄阳新阳特约服务站",
        "2026年11月 (2026-11-01 至 2026-11-30)",
        "2026-12-03 14:05",
        "武汉区域服务中心",
        "襄阳新阳机电设备服务有限公司",
        "中国建设银行襄阳襄城支行",
        "4843 4579 1348 5383 059",
        "工时费·数控车床·维修(电气故障)",
        "合计 Total 1,651.50",
        "人民币壹仟陆佰伍拾壹元伍角整",
        "中心应付网点",
        "未付 Outstanding 651.50",
        "BANK-001",
    ):
        assert expected in squeezed, f"{expected!r} not in the PDF's text:\n{text}"
    assert "06:05" not in text and ".843474" not in text  # no UTC, no microseconds
    assert "HQ-2026:labour/" not in text  # tariff lines by name, not by code


def test_xlsx_shows_the_same_sheet():
    wb = load_workbook(io.BytesIO(documents.xlsx(sheet_of())))
    ws = wb.active
    cells = [c for row in ws.iter_rows(values_only=True) for c in row if c is not None]
    text = " ".join(str(c) for c in cells)
    for expected in (
        "襄阳新阳特约服务站 (C01-O01)",
        "2026-12-03 14:05 (北京时间)",
        "中国建设银行襄阳襄城支行",
        "4843 4579 1348 5383 059",
        "HQ-2026: 工时费·数控车床·维修(电气故障)；上门费；交通费(10–30公里)",
        "人民币壹仟陆佰伍拾壹元伍角整",
    ):
        assert expected in text, expected
    assert "HQ-2026:labour/" not in text and "+00:00" not in text
    rows = list(ws.iter_rows(values_only=True))
    total = next(r for r in rows if "合计 Total" in r)
    assert Decimal(str(total[-1])) == Decimal("1651.50")
    amounts = [r[6] for r in rows if isinstance(r[0], int)]
    assert sum(Decimal(str(a)) for a in amounts) == Decimal("1651.50")


# ---------------------------------------------------------------- the font
def test_font_lookup_names_the_package_or_the_setting(tmp_path):
    assert cjk_font().path.is_file()
    absent = (FontFile(tmp_path / "none.ttc", 0, "fonts-wqy-zenhei"),)
    with pytest.raises(FontMissing, match="apt-get install fonts-wqy-zenhei"):
        cjk_font(None, absent)
    with pytest.raises(FontMissing, match="FSM_PDF_FONT"):
        cjk_font(str(tmp_path / "missing.ttf"))
    configured = cjk_font(f"{DEFAULT_FONTS[0].path}#1")
    assert (configured.path, configured.index) == (DEFAULT_FONTS[0].path, 1)


def test_a_font_without_latin_letters_is_refused():
    # fonts-droid-fallback's font has Chinese only: digits and Latin letters would print blank
    droid = Path("/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf")
    assert droid.is_file(), "install fonts-droid-fallback (scripts/ensure_tools.sh does)"
    with pytest.raises(FontMissing, match="no glyphs for"):
        documents.font_name(FontFile(droid))
