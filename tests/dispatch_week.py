"""A small week for the dispatch bench's yardsticks (bench/dispatch.py, bench/dispatch_budget.py):
one C01 outlet south of Wuhan, a working Monday to Friday, visits as the replay records them."""

from datetime import UTC, date, datetime, time, timedelta

from services.dispatch import domain

TZ = domain.LOCAL_TZ
LINE = "数控车床"
MONDAY = date(2026, 12, 7)
HOME = (30.60, 114.30)


def at(day_offset, hh, mm=0):
    """UTC of a local time `day_offset` days after MONDAY."""
    return datetime.combine(MONDAY + timedelta(days=day_offset), time(hh, mm), TZ).astimezone(UTC)


def visit(vid, lat, lon, received, due, minutes=90):
    return {
        "id": vid,
        "tenant_id": "C01",
        "product_line": LINE,
        "kind": "repair",
        "priority": 3,
        "lat": lat,
        "lon": lon,
        "received": received,
        "due": due,
        "service_minutes": minutes,
    }


def tech(tid):
    return domain.TechView(
        id=tid,
        tenant_id="C01",
        outlet_id="C01-O01",
        skills=(LINE,),
        certificates={LINE: date(2030, 1, 1)},
        lat=HOME[0],
        lon=HOME[1],
        capacity=4,
        shift_start=time(8, 30),
        shift_end=time(18, 0),
    )
