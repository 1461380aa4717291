"""The outlet's jobs page in a real browser: today's visits in route order with their deadlines,
the route drawn as SVG, another outlet's job not reachable, and a phone's width. The tests share
one platform (module_platforms) and the two visits planned for the outlet C01-O05 on it (none of
them changes a visit)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from shared import clock
from tests.portal_fixtures import add_account, plan_outlet_visits


@pytest.fixture(scope="module")
def portal_platform(module_portal_platform):
    return module_portal_platform


_planned: dict[int, list] = {}


def outlet_visits(platform):
    """The two Wuhan visits planned for C01-O05 (`plan_outlet_visits`), planned by the first test
    that asks on this platform (at its working morning) and the same ones for the next."""
    if id(platform) not in _planned:
        _planned[id(platform)] = plan_outlet_visits(platform)
    return _planned[id(platform)]


def test_an_outlet_signs_in_and_sees_its_jobs_in_route_order(working_morning, browser, portal_platform):
    visits = outlet_visits(portal_platform)
    add_account(portal_platform, "o5-user", name="鄂州网点 张三")
    browser.sign_in("o5-user", path="/login?next=/")
    assert browser.path == "/outlet/jobs"  # an outlet's home
    assert browser.title.startswith("任务")
    cards = browser.find_all("article.job")
    assert [c.get_attribute("id") for c in cards] == [f"job-{v['id']}" for v in visits]
    assert [c.find_element("css selector", ".order").text for c in cards] == ["1", "2"]
    first = cards[0].text
    # names, not codes; local time; the ticket's customer, address, fault and warranty
    assert "武汉精工机械有限公司" in first and "湖北省武汉市洪山区珞喻路1号" in first and "主轴异响" in first
    assert "数控车床" in first and "维修" in first and "还剩" in first
    assert "保修" in first and "自费" not in first  # bought 100 days ago: within its one-year warranty
    assert "自费" in cards[1].text  # bought in 2019
    assert "今天" in browser.find("section.day h2").text
    # the day's route: a polyline through both stops, drawn from coordinates
    svg = browser.find("figure.route-map svg")
    assert len(svg.find_elements("css selector", "polyline")) == 1
    assert len(svg.find_elements("css selector", "g.stop")) == 2
    assert browser.find_all("img") == []  # no map tiles
    # the on-site deadline passes: the countdown turns red
    clock.travel_to(max(clock.as_utc(_due(v)) for v in visits) + timedelta(minutes=30))
    browser.open("/outlet/jobs")
    if browser.path.startswith("/login"):  # the session expired on the way (PORTAL_SESSION_SECONDS)
        browser.sign_in("o5-user", path=browser.path)
    overdue = browser.find_all("article.job.is-overdue .countdown.overdue")
    assert len(overdue) == 2 and all(o.text.startswith("已超时") for o in overdue)
    assert browser.find(".countdown.overdue").value_of_css_property("background-color") == "rgba(198, 40, 40, 1)"
    # the job's page
    browser.open(f"/outlet/jobs/{visits[0]['id']}")
    assert "武汉精工机械有限公司" in browser.text and "CK6150" in browser.text


def test_another_outlets_job_url_is_not_found(working_morning, browser, portal_platform):
    visits = outlet_visits(portal_platform)
    add_account(portal_platform, "o1-user", tenant="C01", outlet="C01-O01")
    browser.sign_in("o1-user")
    assert browser.path == "/outlet/jobs" and browser.find_all("article.job") == []
    browser.open(f"/outlet/jobs/{visits[0]['id']}")
    assert browser.title.startswith("未找到") and "武汉精工" not in browser.text


def test_the_jobs_page_fits_a_phone(working_morning, browser, portal_platform):
    outlet_visits(portal_platform)
    add_account(portal_platform, "o5-user", name="鄂州网点 张三")
    browser.phone()
    browser.open("/login")
    assert browser.inner_width() == 390 and browser.scroll_width() <= 390, browser.scroll_width()
    browser.sign_in("o5-user")
    assert browser.path == "/outlet/jobs" and len(browser.find_all("article.job")) == 2
    assert browser.scroll_width() <= 390, browser.scroll_width()
    assert 0 < browser.find("figure.route-map svg").size["width"] <= 390
    browser.open("/account/password")
    assert browser.scroll_width() <= 390, browser.scroll_width()


def _due(visit):
    from datetime import datetime

    return datetime.fromisoformat(visit["onsite_due"])
