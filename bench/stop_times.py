"""How long the platform takes to stop, and whether it stops cleanly.

For each case: start the platform against a RabbitMQ node of this script's own
(tests/chaos_broker.py; the shared broker is never touched), wait for every /health/ready,
optionally put tickets on it (4 client threads through the gateway), optionally take the broker
away (``during``: stopped, the signal comes 3 s later; ``after``: stopped for 10 s and back,
the signal comes once all are ready again), then send the signal to the process group(s) and
time the exit. Checked each time: exit code, "Traceback"/AssertionError in the log, and that
every ticket answered 201 is in intake's database.

    .venv/bin/python bench/stop_times.py                      # the default matrix (about 10 min)
    .venv/bin/python bench/stop_times.py --layout make --signals SIGTERM --loads load --broker ok

Layouts: ``make`` (`make run`: all seven in one `nameko run`) and ``per-service`` (seven
`nameko run` processes, signalled together). Output: one line per case, and a JSON list in
bench/out/stop_times.json.
"""

from __future__ import annotations

import argparse
import itertools
import json
import re
import signal
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.chaos_broker import ChaosBroker  # noqa: E402
from tests.processes import SERVICE_CLASSES, ServiceProcesses  # noqa: E402
from tests.stopping import (  # noqa: E402
    CENTER,
    MakeRun,
    TicketLoad,
    clean_stops,
    log_problems,
    signal_group,
    stored_tickets,
)


def run_make(broker: ChaosBroker, folder: Path, sig: int, load: bool, outage: str) -> dict:
    run = MakeRun(folder, broker.uri, DISPATCH_TIME_LIMIT=2.0)
    run.start()
    try:
        ready_s = run.wait_ready()
        tickets = _before_signal(broker, run.ready, run.url("gateway"), run.token(), load, outage)
        took = run.signal(sig)
        code = run.proc.returncode
        if tickets:
            tickets.stop()
        return _result(ready_s, took, {"make": code}, [run.log()], tickets, stored_tickets(run.db("intake")))
    finally:
        run.kill()
        if outage == "during":
            broker.start_app()


def run_per_service(broker: ChaosBroker, folder: Path, sig: int, load: bool, outage: str) -> dict:
    procs = ServiceProcesses(broker.uri, folder, DISPATCH_TIME_LIMIT=2.0)
    for name in SERVICE_CLASSES:
        procs.start(name, [name])
    try:
        started = time.monotonic()
        procs.wait_ready(list(SERVICE_CLASSES))
        ready_s = time.monotonic() - started
        tickets = _before_signal(broker, procs.ready, procs.url("gateway", ""), procs.token(CENTER), load, outage)
        times, codes = {}, {}

        def stop(name):
            times[name] = signal_group(procs.process(name), sig, 30, lambda: procs.log_tail(name))
            codes[name] = procs.process(name).returncode

        threads = [threading.Thread(target=stop, args=(name,)) for name in SERVICE_CLASSES]
        for t in threads:
            t.start()
        for t in threads:
            t.join(40)
        if tickets:
            tickets.stop()
        logs = [procs.log_tail(name, 10**7) for name in SERVICE_CLASSES]
        result = _result(ready_s, max(times.values()), codes, logs, tickets, set(_ids(procs)))
        result["per_service_s"] = {k: round(v, 2) for k, v in sorted(times.items())}
        return result
    finally:
        procs.stop_all()
        if outage == "during":
            broker.start_app()


def _ids(procs: ServiceProcesses) -> list[str]:
    return [row[0] for row in procs.db("intake").execute("SELECT id FROM tickets")]


def _before_signal(broker, ready, gateway_url, token, load, outage):
    tickets = TicketLoad(gateway_url, token).start() if load else None
    if tickets:
        tickets.wait_accepted(10, timeout=90)
    if outage == "after":
        broker.stop_app()
        time.sleep(10)
        broker.start_app()
        deadline = time.monotonic() + 90
        while not all(ready(s) for s in SERVICE_CLASSES) and time.monotonic() < deadline:
            time.sleep(0.5)
        time.sleep(2)
    elif outage == "during":
        broker.stop_app()
        time.sleep(3)
    else:
        time.sleep(3)
    return tickets


def _result(ready_s, took, codes, logs, tickets, stored) -> dict:
    accepted = set(tickets.accepted) if tickets else set()
    # each process's log from its signal on (an outage before it is logged by kombu with a
    # traceback of its own)
    stop_log = "\n".join("\n".join(re.split(r'"msg": "SIG(?:TERM|INT): stopping ', log)[1:]) for log in logs)
    return {
        "ready_s": round(ready_s, 1),
        "stop_s": round(took, 2),
        "exit": codes,
        "problems": log_problems(stop_log)[:3],
        "clean": [f"{names}: {seconds} s" for names, seconds in clean_stops(stop_log)],
        "killed": "killed (unacknowledged" in stop_log,
        "accepted": len(accepted),
        "missing": len(accepted - stored),
        "answers": {str(k): v for k, v in (tickets.answers.items() if tickets else [])},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--layout", nargs="+", default=["make", "per-service"], choices=["make", "per-service"])
    parser.add_argument("--signals", nargs="+", default=["SIGTERM", "SIGINT"])
    parser.add_argument("--loads", nargs="+", default=["idle", "load"], choices=["idle", "load"])
    parser.add_argument("--broker", nargs="+", default=["ok", "after", "during"], choices=["ok", "after", "during"])
    parser.add_argument("--out", default=str(REPO / "bench" / "out" / "stop_times.json"))
    args = parser.parse_args()
    results = []
    with ChaosBroker() as broker:
        for layout, name, load, outage in itertools.product(args.layout, args.signals, args.loads, args.broker):
            folder = Path(tempfile.mkdtemp(prefix="fsm-stop-"))
            runner = run_make if layout == "make" else run_per_service
            case = {"layout": layout, "signal": name, "load": load, "broker": outage}
            try:
                case.update(runner(broker, folder, getattr(signal, name), load == "load", outage))
            except AssertionError as exc:
                case["error"] = str(exc)[:1500]
            results.append(case)
            print(json.dumps(case, ensure_ascii=False), flush=True)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(results, ensure_ascii=False, indent=1))
    worst = max((r.get("stop_s", 99) for r in results), default=0)
    print(f"{len(results)} cases; slowest stop {worst} s; written to {args.out}")


if __name__ == "__main__":
    main()
