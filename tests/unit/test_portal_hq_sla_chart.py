"""HQ's SLA charts (services/gateway/portal/slachart.py): one chart per center or tier in the
names' order, a bar per period with its states stacked to scale, late counting both met late and
breached, the share met in time, an axis top that is a round even number."""

from __future__ import annotations

from services.gateway.portal import slachart


def counts(start, key, value, met=0, met_late=0, breached=0, at_risk=0, open=0):
    row = dict(start=start, met=met, met_late=met_late, breached=breached, at_risk=at_risk, open=open)
    row[key] = value
    row["total"] = met + met_late + breached + at_risk + open
    return row


REPORT = {
    "period": "week",
    "sla": None,
    "starts": ["2026-11-23", "2026-11-30"],
    "rows": [],
    "by_tenant": [
        counts("2026-11-23", "tenant_id", "C02", met=3),
        counts("2026-11-30", "tenant_id", "C01", met=6, met_late=1, breached=1, at_risk=1, open=1),
        counts("2026-11-30", "tenant_id", "HQ", open=2),
    ],
    "by_tier": [counts("2026-11-30", "tier", "local", met=1, breached=1)],
}


def test_a_chart_per_center_in_the_names_order_with_stacked_bars_to_scale():
    charts = slachart.charts(REPORT, "tenant_id", {"C01": "武汉区域服务中心", "C02": "济南区域服务中心"})
    assert [(c.key, c.name) for c in charts] == [("C01", "武汉区域服务中心"), ("C02", "济南区域服务中心"), ("HQ", "HQ")]
    wuhan = charts[0]
    assert wuhan.totals == {"met": 6, "late": 2, "at_risk": 1, "open": 1} and wuhan.rate == "75.0%"
    first, second = wuhan.bars
    assert first.segments == [] and first.label == "11/23" and second.label == "11/30"
    assert [(s.state, s.count) for s in second.segments] == [("met", 6), ("late", 2), ("at_risk", 1), ("open", 1)]
    plot = slachart.HEIGHT - slachart.TOP - slachart.BOTTOM
    assert abs(sum(s.height for s in second.segments) - plot) < 0.5  # 10 deadlines on an axis of 10
    assert second.segments[0].y + second.segments[0].height == slachart.HEIGHT - slachart.BOTTOM
    assert [v for _, v in wuhan.gridlines] == [0, 5, 10]
    assert charts[2].rate == "—"  # nothing decided yet
    assert "11月30日起一周" in second.title and "超时 2" in second.title


def test_tiers_and_months_and_the_axis_top():
    [local] = slachart.charts(dict(REPORT, period="month", starts=["2026-11-30"]), "tier", {"local": "本地"})
    assert local.name == "本地" and local.bars[0].label == "11月" and local.rate == "50.0%"
    assert [slachart.nice_ceiling(v) for v in (0, 5, 9, 11, 45, 101)] == [4, 6, 10, 20, 60, 200]
