"""The outlet's request for a return visit (申请返修/二次上门) through the gateway's REST API, on the
real broker: refused before the check-out, from another outlet (404), from a center (403), without
a reason (422 naming the field), a second time while the first is open (409 naming the visit), each
refusal changing nothing; asked once, it is the outlet's, pinned to its technician and planned."""

from __future__ import annotations

from datetime import date, timedelta

from shared import clock
from tests.conftest import C01, technician_rows, wait_for
from tests.service.test_dispatch_api import API, O01, O05, WUHAN, assert_error, board, import_technicians, register
from tests.service.test_dispatch_api import visit as get_visit

REASON = "主轴轴承需返厂更换，配件到货后二次上门"


def _ask(p, visit_id, principal, body, status, **kw):
    r = p.post(f"{API}/visits/{visit_id}/return-visit", principal, json=body, **kw)
    assert r.status_code == status, r.text
    return r.json()


def _visits_of(p, ticket_id):
    return board(p, C01, ticket_id=ticket_id)


def test_an_outlet_asks_once_after_its_check_out(working_morning, quiet_platform):
    p = quiet_platform
    import_technicians(p, C01, technician_rows("C01"))
    v = register(p, C01, WUHAN)
    assert p.post(f"{API}/visits/{v['id']}/pin", C01, json={"technician_id": "C01-O05-T1"}).status_code == 200
    assert p.post(f"{API}/dispatch/reoptimise", C01).status_code == 200
    assert get_visit(p, v["id"], O05)["return_visit_refusal"] == "not_checked_out"

    # before the check-out (scheduled, then on site): refused, naming the visit
    err = assert_error(p.post(f"{API}/visits/{v['id']}/return-visit", O05, json={"reason": REASON}), 409, "visit_id")
    assert v["id"] in err["message"]
    assert p.post(f"{API}/visits/{v['id']}/check-in", O05, json={"lat": 30.5, "lon": 114.4}).status_code == 200
    assert_error(p.post(f"{API}/visits/{v['id']}/return-visit", O05, json={"reason": REASON}), 409, "visit_id")
    done = {"work_done": "更换密封圈", "customer_confirmed": True}
    assert p.post(f"{API}/visits/{v['id']}/check-out", O05, json=done).status_code == 200
    assert get_visit(p, v["id"], O05)["return_visit_refusal"] is None
    assert get_visit(p, v["id"], C01)["return_visit_refusal"] == "not_outlet"

    # bad input: the field named, nothing created
    for body, field in (
        ({}, "reason"),
        ({"reason": ""}, "reason"),
        ({"reason": "   "}, "reason"),
        ({"reason": "修" * 501}, "reason"),
        ({"reason": REASON, "wished_date": "明天"}, "wished_date"),
        ({"reason": REASON, "wished_date": _day(-1)}, "wished_date"),
        ({"reason": REASON, "wished_date": _day(31)}, "wished_date"),
        ({"reason": REASON, "wished_date": _rest_day()}, "wished_date"),
        ({"reason": REASON, "urgent": True}, "urgent"),
    ):
        err = assert_error(p.post(f"{API}/visits/{v['id']}/return-visit", O05, json=body), 422, field)
        assert list(err["fields"]) == [field], (body, err)
    # another outlet: the visit does not exist for it; a center does not ask (callbacks do)
    assert_error(p.post(f"{API}/visits/{v['id']}/return-visit", O01, json={"reason": REASON}), 404)
    assert_error(p.post(f"{API}/visits/{v['id']}/return-visit", C01, json={"reason": REASON}), 403)
    assert [x["id"] for x in _visits_of(p, v["ticket_id"])] == [v["id"]]

    wished = _working_day_from(2)
    body = {"reason": f"  {REASON} ", "wished_date": wished}
    key = {"Idempotency-Key": "return-visit-1"}
    again = _ask(p, v["id"], O05, body, 201, headers=key)
    # the same request again (a double submit): the first answer, nothing created twice
    assert _ask(p, v["id"], O05, body, 201, headers=key)["id"] == again["id"]
    assert again["return_of"] == v["id"] and again["status"] == "unplanned" and again["ticket_id"] == v["ticket_id"]
    assert (again["outlet_id"], again["pinned_technician_id"]) == ("C01-O05", "C01-O05-T1")
    assert (again["return_reason"], again["return_requested_by"]) == (REASON, "o5")
    local_due = clock.as_utc(_iso(again["onsite_due"])).astimezone(clock.LOCAL_TZ)
    assert local_due.date() == date.fromisoformat(wished) + timedelta(days=1)  # the end of the wished day
    assert (local_due.hour, local_due.minute) == (0, 0)
    assert clock.as_utc(_iso(again["window_start"])).astimezone(clock.LOCAL_TZ).date().isoformat() == wished
    # the outlet sees it (it is its own), and may not ask again while it is open
    assert get_visit(p, again["id"], O05)["return_reason"] == REASON
    assert get_visit(p, v["id"], O05)["return_visit_refusal"] == "open_visit"
    err = assert_error(p.post(f"{API}/visits/{v['id']}/return-visit", O05, json={"reason": "再次"}), 409, "visit_id")
    assert v["id"] in err["message"] and again["id"] in err["message"], err
    assert len(_visits_of(p, v["ticket_id"])) == 2

    # the planner keeps it with the technician who did the first visit, on the wished day
    assert p.post(f"{API}/dispatch/reoptimise", C01).status_code == 200
    planned = wait_for(lambda: (x := get_visit(p, again["id"], O05))["status"] == "scheduled" and x)
    assert planned["technician_id"] == "C01-O05-T1"
    arrival = clock.as_utc(_iso(planned["planned_arrival"])).astimezone(clock.LOCAL_TZ)
    assert arrival.date().isoformat() == wished
    # once it is checked out, the outlet may ask again for the first visit
    assert p.post(f"{API}/visits/{again['id']}/check-in", O05, json={"lat": 30.5, "lon": 114.4}).status_code == 200
    assert get_visit(p, v["id"], O05)["return_visit_refusal"] == "open_visit"  # on site: still open
    assert p.post(f"{API}/visits/{again['id']}/check-out", O05, json=done).status_code == 200
    assert get_visit(p, v["id"], O05)["return_visit_refusal"] is None


def _day(offset):
    return (clock.now().astimezone(clock.LOCAL_TZ).date() + timedelta(days=offset)).isoformat()


def _working_day_from(offset):
    """The first working day `offset` days or more from today (a wished day the technicians work)."""
    from shared.workcal import ChinaCalendar

    day = date.fromisoformat(_day(offset))
    while not ChinaCalendar.default().is_workday(day):
        day += timedelta(days=1)
    return day.isoformat()


def _rest_day():
    """The first day from today nobody is sent out (a weekend or a holiday)."""
    from shared.workcal import ChinaCalendar

    day = date.fromisoformat(_day(0))
    while ChinaCalendar.default().is_workday(day):
        day += timedelta(days=1)
    return day.isoformat()


def _iso(text):
    from datetime import datetime

    return datetime.fromisoformat(text)


def test_requests_at_once_make_one_return_visit(working_morning, quiet_platform):
    """Several requests for the same visit fired together (different Idempotency-Keys): one return
    visit, the others refused with 409, never a server error. (The check runs in the writing
    transaction; should two checks still interleave, the visit's version refuses the second.)"""
    import eventlet

    p = quiet_platform
    import_technicians(p, C01, technician_rows("C01"))
    v = register(p, C01, WUHAN)
    assert p.post(f"{API}/visits/{v['id']}/pin", C01, json={"technician_id": "C01-O05-T1"}).status_code == 200
    assert p.post(f"{API}/dispatch/reoptimise", C01).status_code == 200
    assert p.post(f"{API}/visits/{v['id']}/check-in", O05, json={"lat": 30.5, "lon": 114.4}).status_code == 200
    done = {"work_done": "更换密封圈", "customer_confirmed": True}
    assert p.post(f"{API}/visits/{v['id']}/check-out", O05, json=done).status_code == 200

    pool = eventlet.GreenPool()
    ask = lambda i: p.post(  # noqa: E731
        f"{API}/visits/{v['id']}/return-visit",
        O05,
        json={"reason": f"{REASON} {i}"},
        headers={"Idempotency-Key": f"at-once-{i}"},
    )
    codes = sorted(r.status_code for r in pool.imap(ask, range(4)))
    assert codes == [201, 409, 409, 409], codes
    assert len(_visits_of(p, v["ticket_id"])) == 2
