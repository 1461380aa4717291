"""The routing solve in a process of its own.

A solve holds the GIL for its whole time limit (STACK-NOTES): inside an eventlet service it
would stall every other entrypoint. The service starts this module as a child process with
eventlet's green subprocess (so waiting for it yields to the hub), gives it the problem on stdin
and reads the plan from its stdout, both pickled (parent and child are the same code base) and
both temporary files (see `run_in_child`). A big tenant's `region_solve.RegionJob` in place of
a problem is planned region by region here (`region_solve.run_job`, its region processes in this
process's group), and its merged plan returned.
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
    from services.dispatch.region_solve import RegionJob, run_job

    if isinstance(problem, RegionJob):  # a big tenant: its own time limit and workers
        sys.stdout.buffer.write(pickle.dumps(run_job(problem)))
        sys.stdout.buffer.flush()
        return
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


class SolveInterrupted(Exception):
    """The solver was ended before it answered: the service is stopping (see `interrupt`)."""


def run_in_child(problem, time_limit: float, workers: int = 2, initial_routes=None, running=None, stopping=None):
    """Solve in a child process; cooperative under eventlet (green subprocess). The child leads
    a process group of its own (its OR-Tools worker processes are in it), registered in the set
    `running` while it runs; `stopping()` true, or `interrupt` called on it, ends the whole group
    and raises `SolveInterrupted`.

    The problem goes to the child, and the plan and its errors come back, through unlinked
    temporary files, not pipes: the parent only waits for the child to exit (eventlet's green
    `wait`, a poll every 10 ms), so ending the child ends the wait whatever the child was doing.
    With pipes, a stop that came while the problem was still being written (the child reads it
    after its imports) could leave `communicate` waiting on a pipe closed under it until the
    stop's deadline killed the worker (the solver was ended, the re-plan was not handed back)."""
    import tempfile

    from eventlet.green import subprocess

    with (
        tempfile.TemporaryFile() as stdin,
        tempfile.TemporaryFile() as stdout,
        tempfile.TemporaryFile() as stderr,
    ):
        pickle.dump((problem, time_limit, workers, initial_routes), stdin)
        stdin.flush()
        stdin.seek(0)
        proc = subprocess.Popen(
            [sys.executable, "-m", "services.dispatch.solver_worker"],
            stdin=stdin,
            stdout=stdout,
            stderr=stderr,
            start_new_session=True,  # a group to end at once; a Ctrl-C to the service's group skips it
        )
        if running is not None:
            running.add(proc)
        try:
            if stopping is not None and stopping():  # began to stop while this one was starting
                interrupt(proc)
            proc.wait()
        except BaseException:  # the worker was killed (a stop that ran out of time): no orphan solver
            interrupt(proc)
            proc.wait()
            raise
        finally:
            if running is not None:
                running.discard(proc)
        if getattr(proc, "interrupted", False):
            raise SolveInterrupted(f"solver process {proc.pid} ended: the service is stopping")
        if proc.returncode != 0:
            stderr.seek(0)
            err = stderr.read()
            raise RuntimeError(f"solver process failed ({proc.returncode}): {err.decode(errors='replace')[-2000:]}")
        stdout.seek(0)
        return pickle.load(stdout)


def interrupt(proc) -> None:
    """End a solver started by `run_in_child` and the worker processes it started."""
    import os
    import signal

    proc.interrupted = True
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:  # already gone
        pass


if __name__ == "__main__":
    main()
