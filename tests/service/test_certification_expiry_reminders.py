"""Certificate expiry reminders from the timer over RabbitMQ: `technician.expiring` goes out
once per certificate and threshold (CERTIFICATION_REMINDER_DAYS="30,7"), however often the
timer runs, through the outbox of the check's unit of work."""

import time
from datetime import UTC, datetime, timedelta
from datetime import time as daytime

from services.certification.domain import LOCAL_TZ
from shared import clock
from tests.certification_fixtures import *  # noqa: F401,F403
from tests.certification_fixtures import C01, cert_config

API = "/api/v1"
TECH = "C01-O05-T8"


def ok(r, status=200):
    assert r.status_code == status, r.text
    return r.json()


def test_expiring_is_published_once_per_threshold_by_the_timer(runner_factory, service_config, tap):
    from services.certification.service import CertificationService
    from services.gateway.service import GatewayService
    from tests.conftest import Platform

    config = cert_config(service_config, CERTIFICATION_CHECK_SECONDS=0.3, CERTIFICATION_REMINDER_DAYS="30,7")
    runner = runner_factory(config, CertificationService, GatewayService)
    runner.start()
    p = Platform(runner, config)
    today = datetime.now(UTC).astimezone(LOCAL_TZ).date()
    until = today + timedelta(days=20)
    ok(
        p.post(
            f"{API}/certification/technicians",
            C01,
            json={"id": TECH, "outlet_id": "C01-O05", "name": "钱峰", "skills": ["注塑机"]},
        )
    )
    exam = ok(
        p.post(
            f"{API}/certification/exams",
            C01,
            json={
                "technician_id": TECH,
                "product_line": "注塑机",
                "score": "80",
                "taken_on": until.replace(year=until.year - 2).isoformat(),
            },
        ),
        201,
    )
    assert exam["certificate"]["valid_until"] == until.isoformat()

    def reminders():
        tap.drain()
        return [e for t, e in tap.events if t == "technician.expiring" and e["technician_id"] == TECH]

    first = tap.wait("technician.expiring", lambda e: e["technician_id"] == TECH)
    assert first[0]["valid_until"] == until.isoformat() and first[0]["outlet_id"] == "C01-O05"
    time.sleep(1.5)  # about five more runs of the timer: nothing more for the 30-day threshold
    assert len(reminders()) == 1
    # six days before the last valid day (China's date): the 7-day threshold, once
    clock.travel_to(datetime.combine(until - timedelta(days=6), daytime(9, 0), LOCAL_TZ))
    tap.wait("technician.expiring", lambda e: e["technician_id"] == TECH and len(reminders()) >= 2)
    time.sleep(1.5)
    assert len(reminders()) == 2
    # its last day: both thresholds were sent, nothing more; the certificate is still valid
    clock.travel_to(datetime.combine(until, daytime(23, 0), LOCAL_TZ))
    time.sleep(1.5)
    assert len(reminders()) == 2
    tech = ok(p.get(f"{API}/certification/technicians/{TECH}", C01))
    assert [c["status"] for c in tech["certificates"]] == ["valid"]
