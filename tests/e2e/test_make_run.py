"""`make run`, exactly as the README gives it, starts all seven services, and SIGTERM or Ctrl-C
stops them cleanly."""

from __future__ import annotations

import signal
import time

import pytest
import requests

from tests.processes import SERVICE_CLASSES
from tests.stopping import (
    STOP_BOUND,
    MakeRun,
    TicketLoad,
    clean_stops,
    log_problems,
    registered_events,
    stored_tickets,
)


def test_make_run_starts_every_service_ready(rabbit_config, tmp_path):
    run = MakeRun(tmp_path, rabbit_config["AMQP_URI"])
    run.start()
    try:
        run.wait_ready(90)
        for name in SERVICE_CLASSES:
            assert requests.get(run.url(name, "/health/ready"), timeout=5).json()["service"] == name
    finally:
        run.kill()


# ------------------------------------------------------------------ stopping it (shared.stopping)
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "Ctrl-C"])
def test_make_run_stops_cleanly_under_load(sig, rabbit_config, tmp_path):
    """Tickets keep coming through the gateway when the signal reaches the process group (as
    Ctrl-C in a terminal sends it; a kill of the group too, and make passes SIGTERM on, so
    nameko gets that one twice): every service stops within 10 s, without a traceback, and
    every ticket answered 201 is stored with its event (published, or waiting in the outbox).
    After SIGTERM the platform is started again and every such ticket gets its visit: nothing
    handed back or left in an outbox was lost."""
    run = MakeRun(tmp_path, rabbit_config["AMQP_URI"], DISPATCH_TIME_LIMIT=1.0, DISPATCH_BATCH_SECONDS=0.5)
    run.start()
    load = None
    try:
        run.wait_ready()
        load = TicketLoad(run.url("gateway"), run.token()).start()
        load.wait_accepted(20)
        took = run.signal(sig)
        load.stop()
        log = run.log()
        assert took < STOP_BOUND, f"{took:.1f} s\n{log[-3000:]}"
        # make waits for nameko, then ends by the same signal (130 after Ctrl-C, 143 after SIGTERM)
        assert run.proc.returncode in (0, -sig), run.proc.returncode
        assert log_problems(log) == []
        assert [names for names, _ in clean_stops(log)] == [", ".join(sorted(SERVICE_CLASSES))], log[-3000:]
        accepted = set(load.accepted)
        assert accepted <= stored_tickets(run.db("intake")), "an accepted ticket was lost"
        assert accepted <= set(registered_events(run.db("intake"))), "an accepted ticket has no event"
        assert 500 not in load.answers, dict(load.answers)
    finally:
        if load is not None:
            load.stop()
        run.kill()
    if sig != signal.SIGTERM:
        return
    again = MakeRun(tmp_path, rabbit_config["AMQP_URI"], DISPATCH_TIME_LIMIT=1.0, DISPATCH_BATCH_SECONDS=0.5)
    again.start()
    try:
        again.wait_ready()
        deadline = time.monotonic() + 120
        while True:
            visits = dict(again.db("dispatch").execute("SELECT ticket_id, count(*) FROM visits GROUP BY ticket_id"))
            if accepted <= set(visits):
                break
            assert time.monotonic() < deadline, f"{len(accepted - set(visits))} accepted tickets never got a visit"
            time.sleep(1)
        assert all(visits[t] == 1 for t in accepted)
        assert all(registered_events(again.db("intake")).values()), "events still waiting in intake's outbox"
        assert again.signal(signal.SIGTERM) < STOP_BOUND
    finally:
        again.kill()
