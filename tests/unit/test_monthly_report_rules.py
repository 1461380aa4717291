"""The monthly center report's rules (issue 18.5): the Pareto of complaint causes, the on-time shares
per SLA tier, the country's total counted (never averaged), quarters, and what the files print."""

from decimal import Decimal

from services.qa import monthly_report as mr
from services.qa import report_files


def _center(tenant, name, sla_rows, causes=(), satisfaction=()):
    sections = {
        "served": mr.served(
            [
                {"customer_id": f"{tenant}-c1", "product_line": "数控车床", "model": "CK6140", "kind": "repair"},
                {"customer_id": f"{tenant}-c1", "product_line": "数控车床", "model": "CK6150", "kind": "install"},
                {"customer_id": f"{tenant}-c2", "product_line": "加工中心", "kind": "repair", "status": "closed"},
            ]
        ),
        "sla": mr.sla_by_tier(sla_rows),
        "onsite": mr.onsite_by_tier([{"tier": "local", "visits": 3, "on_time": 2, "late": 1}]),
        "complaints": mr.complaints(causes),
        "callbacks": mr.callbacks([{"planned": 4, "done_on_time": 2, "done_late": 1, "overdue": 1}], satisfaction),
        "outlets": mr.outlets([], {}),
        "parts": mr.missing("ServiceUnavailable: parts did not answer"),
        "money": mr.money([], []),
    }
    return mr.center_month(tenant, name, "2026-03", sections)


def test_pareto_orders_causes_by_count_with_cumulative_share_and_the_vital_few():
    section = mr.complaints(["fees", "attitude", "fees", None, "fees", "attitude", "parts", "late_service"])
    rows = section["pareto"]
    assert [r["cause"] for r in rows] == ["fees", "attitude", "late_service", "parts", "unclassified"]
    assert [r["count"] for r in rows] == [3, 2, 1, 1, 1]
    assert [r["label"] for r in rows][:2] == ["收费问题", "服务态度"]
    assert rows[-1]["label"] == "未分类"
    assert [r["cumulative_pct"] for r in rows] == [
        Decimal("37.5"),
        Decimal("62.5"),
        Decimal("75.0"),
        Decimal("87.5"),
        Decimal("100.0"),
    ]
    # the vital few: the causes it takes to reach 80%
    assert [r["vital"] for r in rows] == [True, True, True, True, False]
    assert section["total"] == 8


def test_on_time_share_per_tier_counts_met_of_the_decided_deadlines():
    section = mr.sla_by_tier(
        [
            {"tier": "out_of_province", "met": 1, "breached": 1, "open": 5},
            {"tier": "local", "met": 3, "met_late": 1, "at_risk": 2},
            {"tier": "local", "met": 4, "breached": 0},
            {"tier": None, "met": 1},
        ]
    )
    rows = {r["tier"]: r for r in section["rows"]}
    assert [r["label"] for r in section["rows"]] == ["本地", "省外", "未定级", "合计"]
    assert rows["local"]["on_time_pct"] == Decimal("87.5")  # 7 met of 8 decided; at risk is not decided
    assert rows["out_of_province"]["on_time_pct"] == Decimal("50.0")  # open deadlines do not count
    assert rows["all"]["met"] == 9 and rows["all"]["decided"] == 11
    assert rows["all"]["on_time_pct"] == Decimal("81.8")
    assert mr.sla_by_tier([{"tier": "local", "open": 3}])["rows"][0]["on_time_pct"] is None


def test_the_country_divides_summed_counts_never_averages_the_centers_shares():
    big = _center(
        "C01",
        "武汉中心",
        [{"tier": "local", "met": 90, "breached": 10}],
        satisfaction=[{"answers": 10, "total": 50, "s5": 10}],
    )
    small = _center(
        "C02",
        "济南中心",
        [{"tier": "local", "met": 0, "breached": 10}],
        satisfaction=[{"answers": 2, "total": 2, "s1": 2}],
    )
    hq = mr.hq_month("2026-03", [big, small])
    assert [c["center_name"] for c in hq["centers"]] == ["武汉中心", "济南中心"]
    assert hq["centers"][0]["sla_local_pct"] == Decimal("90.0") and hq["centers"][1]["sla_local_pct"] == Decimal("0.0")
    assert hq["total"]["sla_local_pct"] == Decimal("81.8")  # 90 of 110, not (90 + 0) / 2
    assert hq["total"]["satisfaction"] == Decimal("4.33")  # 52 of 12 answers
    assert hq["total"]["tickets"] == 6 and hq["total"]["customers"] == 4
    assert hq["total"]["parts_consumed"] is None  # neither center's parts answered
    assert "武汉中心: parts" in hq["missing"]


def test_the_center_report_headline_and_sections():
    report = _center(
        "C01", "武汉中心", [{"tier": "in_province", "met": 3, "met_late": 1}], causes=["fees", "fees", "attitude"]
    )
    assert report["title"] == "武汉中心 2026年3月服务月报"
    assert report["served"]["customers"] == 2 and report["served"]["by_product"][0] == {
        "product_line": "数控车床",
        "tickets": 2,
        "customers": 1,
        "models": 2,
    }
    assert report["headline"]["sla_in_province_pct"] == Decimal("75.0")
    assert report["headline"]["onsite_pct"] == Decimal("66.7")
    assert report["headline"]["callbacks_pct"] == Decimal("75.0")  # 3 made of 4 due
    assert report["headline"]["complaints"] == 3
    assert report["parts"] == {"available": False, "error": "ServiceUnavailable: parts did not answer"}


def test_outlets_rated_by_score_and_the_not_rated_apart_with_names():
    section = mr.outlets(
        [
            {"outlet_id": "O2", "rated": True, "score": Decimal("80.0"), "stars": 3, "grade": "B", "jobs": 4},
            {"outlet_id": "O3", "rated": False, "jobs": 1},
            {"outlet_id": "O1", "rated": True, "score": Decimal("95.5"), "stars": 5, "grade": "A", "jobs": 9},
        ],
        {"O1": "汉口网点", "O3": "武昌网点"},
    )
    assert [r["name"] for r in section["rated"]] == ["汉口网点", "O2"]
    assert [r["name"] for r in section["not_rated"]] == ["武昌网点"]
    assert section["grades"] == {"A": 1, "B": 1}


def test_money_sums_yuan_and_parts_count_by_kind():
    money = mr.money(
        [
            {"claimed_total": "120.50", "approved": "100.00", "status": "approved"},
            {"claimed_total": "30.00", "approved": None, "status": "hq_review"},
        ],
        [{"total": "100.00", "paid": "40.00", "outstanding": "60.00"}],
    )
    assert money["claimed"] == Decimal("150.50") and money["approved"] == Decimal("100.00")
    assert money["outstanding"] == Decimal("60.00") and money["claims_by_status"] == {"approved": 1, "hq_review": 1}
    parts = mr.parts(
        [
            {"kind": "consumption", "quantity": -2, "part_no": "P1"},
            {"kind": "consumption", "quantity": -1, "part_no": "P2"},
            {"kind": "receipt", "quantity": 50, "part_no": "P1"},
        ]
    )
    assert parts["rows"] == [{"kind": "consumption", "label": "消耗", "movements": 2, "quantity": 3, "part_numbers": 2}]


def test_the_centers_assessment_in_the_report_and_side_by_side():
    report = _center("C01", "武汉中心", [])
    assert report["headline"]["assessment"] == "未考核"
    assessed = mr.center_month(
        "C02",
        "济南中心",
        "2026-03",
        {"assessment": mr.assessment({"rated": True, "score": Decimal("91.5"), "grade": "A", "rank": 1})},
    )
    assert assessed["headline"]["assessment"] == "91.5（A）" and assessed["headline"]["assessment_rank"] == 1
    unrated = mr.center_month("C03", "郑州中心", "2026-03", {"assessment": mr.assessment({"rated": False})})
    assert unrated["headline"]["assessment"] == "未评"
    table = report_files.tables(mr.hq_month("2026-03", [report, assessed, unrated]))[0]
    line = next(row for row in table[3] if row[0] == "中心考核（得分、等级）")
    assert line == ["中心考核（得分、等级）", "未考核", "91.5（A）", "未评", "—"]


def test_quarters():
    assert mr.quarter_of("2026-05") == "2026-Q2"
    assert mr.quarter_months("2026-Q4") == ["2026-10", "2026-11", "2026-12"]
    assert mr.ends_quarter("2026-06") == "2026-Q2" and mr.ends_quarter("2026-05") is None
    report = mr.quarterly(
        "2026-Q1",
        [("C01", "武汉中心"), ("C02", "济南中心")],
        [
            {"tenant_id": "C01", "month": "2026-01", "answers": 2, "total": 9, "negative": 0, "s4": 1, "s5": 1},
            {"tenant_id": "C01", "month": "2026-03", "answers": 1, "total": 2, "negative": 1, "s2": 1},
            {"tenant_id": "C02", "month": "2026-02", "answers": 1, "total": 5, "negative": 0, "s5": 1},
            {
                "tenant_id": "C02",
                "month": "2026-04",
                "answers": 9,
                "total": 9,
                "negative": 9,
                "s1": 9,
            },  # not this quarter
        ],
    )
    assert report["title"] == "全国 2026年第1季度顾客满意度报告"
    wuhan, jinan, country = report["rows"]
    assert wuhan["quarter"]["answers"] == 3 and wuhan["quarter"]["average"] == Decimal("3.67")
    assert wuhan["2026-02"]["average"] is None
    assert jinan["quarter"]["answers"] == 1
    assert country["center_name"] == "全国合计" and country["quarter"]["answers"] == 4
    assert country["quarter"]["average"] == Decimal("4.00") and country["quarter"]["satisfied_pct"] == Decimal("75.0")


def test_the_files_carry_chinese_headers_and_center_names():
    import io

    from openpyxl import load_workbook

    report = _center("C01", "武汉中心", [{"tier": "local", "met": 3, "met_late": 1}], causes=["fees"])
    book = load_workbook(io.BytesIO(report_files.to_xlsx(report)))
    assert book.sheetnames == [
        "概要",
        "书面报告",
        "客户与产品",
        "客户与产品档案",
        "SLA按时率",
        "上门准时率",
        "投诉帕累托",
        "回访与满意度",
        "网点考评",
        "费用结算",
    ]
    assert book["概要"]["B3"].value == "武汉中心"
    assert [c.value for c in book["SLA按时率"][2]][-1] == "按时率"
    assert book["SLA按时率"]["G3"].value == "75.0%"
    summary = [row for row in book["概要"].iter_rows(values_only=True)]
    assert ("备件：未取得", "ServiceUnavailable: parts did not answer") in summary
    hq = report_files.tables(mr.hq_month("2026-03", [report]))
    assert hq[0][2] == ["指标", "武汉中心", "全国合计"]


def test_the_written_part_and_the_customer_and_product_file():
    part = mr.written({"technical": "轴承磨损", "written_by": "c1-agent", "written_at": "2026-04-02 09:00"})
    assert part["written"] is True and [x["label"] for x in part["lines"]] == list(mr.NOTE_FIELDS.values())
    assert mr.written(None)["written"] is False
    served = mr.served(
        [
            {
                "customer_id": "c1",
                "customer_name": "襄阳重工",
                "product_line": "数控车床",
                "model": "CK6150",
                "serial_no": "S1",
            },
            {
                "customer_id": "c1",
                "customer_name": "襄阳重工",
                "product_line": "数控车床",
                "model": "CK6150",
                "serial_no": "S1",
            },
            {
                "customer_id": "c2",
                "customer_name": "荆州机械",
                "product_line": "加工中心",
                "model": "VMC850",
                "serial_no": "S9",
            },
        ]
    )
    assert [(f["customer_name"], f["serial_no"], f["tickets"]) for f in served["files"]] == [
        ("荆州机械", "S9", 1),
        ("襄阳重工", "S1", 2),
    ]
    complaints = mr.complaints(["fees"], {"closed": 1, "average_days": Decimal("3.5"), "target_days": 15})
    report = _center("C01", "武汉中心", [], causes=["fees"])
    report["complaints"] = complaints
    titles = [t[1] for t in report_files.tables(report)]
    assert "投诉原因（帕累托），共 1 件；结案 1 件，平均 3.5 天（目标 15 天）" in titles
    hq = mr.hq_month("2026-03", [report], {"technical": "全国轴承问题集中在华中"})
    assert hq["centers_written"] == [{"center_name": "武汉中心", "written": False}]
    assert hq["written"]["lines"][0]["text"] == "全国轴承问题集中在华中"


def test_a_written_part_longer_than_a_page_and_unbroken_still_makes_the_pdf():
    """The fuzzer's case: 3,990 digits in one line of the written part (within the 4,000 allowed)
    made a table row taller than the page, and reportlab refused the whole document (500)."""
    import subprocess

    from shared.fonts import cjk_font

    report = _center("C01", "武汉中心", [{"tier": "local", "met": 3, "met_late": 1}], causes=["fees"])
    report["written"] = mr.written({"competitors": "0" * 3990, "technical": "轴承磨损"})
    pdf = report_files.to_pdf(report, cjk_font())
    text = subprocess.run(["pdftotext", "-", "-"], input=pdf, capture_output=True, check=True).stdout.decode()
    assert "轴承磨损" in text and text.count("0") >= 3990


def test_a_quarter_outside_the_calendars_years_is_refused_by_field():
    import pytest
    from marshmallow import ValidationError

    from services.qa.report_schemas import QuarterlyReportQuery

    assert QuarterlyReportQuery().load({"quarter": "2026-Q1"})["quarter"] == "2026-Q1"
    for bad in ("0000-Q1", "1969-Q4", "2100-Q1", "2026-Q5"):
        with pytest.raises(ValidationError) as refused:
            QuarterlyReportQuery().load({"quarter": bad})
        assert "quarter" in refused.value.messages, bad
