"""The routing solve in a process of its own.

A solve holds the GIL for its whole time limit (STACK-NOTES): inside an eventlet service it
would stall every other entrypoint. The service starts this module as a child process with
eventlet's green subprocess (so waiting for it yields to the hub), sends the problem on stdin
and reads the plan from stdout, both pickled (parent and child are the same code base).
"""

from __future__ import annotations

import pickle
import sys


def main():
    import os

    from services.dispatch.routing import solve

    try:  # the service that started us answers requests; the solve can wait its turn
        os.nice(5)
    except OSError:  # pragma: no cover
        pass
    problem, time_limit, workers, initial = pickle.load(sys.stdin.buffer)
    from services.dispatch.routing import SAVINGS_MAX_PAIRS

    if initial == "greedy" and len(problem.visits) * len(problem.vehicles) > SAVINGS_MAX_PAIRS:
        initial = None  # at that size cheapest arc + GLS did better than starting from greedy
    if initial == "greedy":  # built here, not in the service: it is CPU work too
        import time

        from services.dispatch.insertion import greedy_start

        t0 = time.time()
        initial = greedy_start(problem)
        time_limit = max(0.5, time_limit - (time.time() - t0))
    plan = solve(problem, time_limit, workers=workers, initial_routes=initial)
    sys.stdout.buffer.write(pickle.dumps(plan))
    sys.stdout.buffer.flush()


def run_in_child(problem, time_limit: float, workers: int = 2, initial_routes=None):
    """Solve in a child process; cooperative under eventlet (green subprocess)."""
    from eventlet.green import subprocess

    proc = subprocess.Popen(
        [sys.executable, "-m", "services.dispatch.solver_worker"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        out, err = proc.communicate(pickle.dumps((problem, time_limit, workers, initial_routes)))
    except BaseException:  # the worker was killed (a stop that ran out of time): no orphan solver
        proc.kill()
        proc.wait()
        raise
    if proc.returncode != 0:
        raise RuntimeError(f"solver process failed ({proc.returncode}): {err.decode(errors='replace')[-2000:]}")
    return pickle.loads(out)


if __name__ == "__main__":
    main()
