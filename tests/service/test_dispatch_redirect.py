"""A technician already driving to a visit that will be late anyway is sent, from where the car
is, to a new visit that can still be on time; a re-plan that keeps the drive keeps its arrival
(real broker, real solves, the service's clock moved to a working morning)."""

from datetime import datetime, time, timedelta

from services.dispatch.domain import LOCAL_TZ
from shared import clock
from tests.conftest import C01, technician_rows
from tests.service.test_dispatch_api import WUHAN, import_technicians, register, reoptimise, visit

XIAOGAN = dict(WUHAN, customer_name="孝感迟到公司", phone="13800000011", address="湖北省孝感市孝南区城站路1号")
HONGSHAN = dict(WUHAN, customer_name="洪山急修公司", phone="13800000012")


def arrival(v):
    return datetime.fromisoformat(v["planned_arrival"])


def test_drive_to_a_late_visit_is_redirected_to_one_that_can_be_on_time(working_morning, quiet_platform):
    p = quiet_platform
    # one technician, at the Ezhou outlet: Xiaogan is a long drive through Wuhan
    import_technicians(p, C01, [r for r in technician_rows("C01") if r["id"] == "C01-O05-T1"])
    day = working_morning.astimezone(LOCAL_TZ).date()
    at = lambda h, m=0, d=day: datetime.combine(d, time(h, m), LOCAL_TZ)  # noqa: E731
    clock.travel_to(at(8))
    late = register(p, C01, dict(XIAOGAN, received_at=(at(10) - timedelta(days=8)).isoformat()))
    assert datetime.fromisoformat(late["onsite_due"]) < at(8)  # overdue already
    reoptimise(p, C01)
    first = visit(p, late["id"])
    assert (first["status"], first["technician_id"]) == ("scheduled", "C01-O05-T1")
    assert arrival(first).astimezone(LOCAL_TZ).date() == day and arrival(first) > at(10, 30)

    # on the road at 10:00: re-planning with nothing new keeps the drive and its arrival
    clock.travel_to(at(10))
    reoptimise(p, C01)
    kept = visit(p, late["id"])
    assert kept["technician_id"] == "C01-O05-T1"
    assert abs((arrival(kept) - arrival(first)).total_seconds()) <= 60

    # a Wuhan visit due at noon today: after the Xiaogan job it would be hours late
    urgent = register(p, C01, dict(HONGSHAN, received_at=at(12, 0, day - timedelta(days=1)).isoformat()))
    due = datetime.fromisoformat(urgent["onsite_due"])
    assert due == at(12)
    assert arrival(first) + timedelta(minutes=first["service_minutes"]) > due
    reoptimise(p, C01)
    got, after = visit(p, urgent["id"]), visit(p, late["id"])
    assert (got["status"], got["technician_id"], got["route_order"]) == ("scheduled", "C01-O05-T1", 1)
    assert at(10) < arrival(got) <= due  # on time, driven from the road, not from home
    assert after["status"] == "scheduled" and after["technician_id"] == "C01-O05-T1"
    assert arrival(after) >= arrival(got) + timedelta(minutes=got["service_minutes"])
