"""Stopping a service process cleanly: SIGTERM (k8s, docker stop, systemd) and Ctrl-C alike.

What plain ``nameko run`` does, and why it was not enough:

- SIGTERM calls ``runner.stop()`` in a new greenlet on *every* signal. A second SIGTERM (make
  forwards SIGTERM to its child, so ``kill`` of `make run`'s process group delivers two; systemd,
  an impatient operator) stops every container again while the first stop still runs, and
  nameko's `Timer` then sends its ``should_stop`` event a second time: ``AssertionError: Trying
  to re-send() an already-triggered event`` (see `shared.leases.LeasedTimer.stop`).
- SIGINT (Ctrl-C) is Python's KeyboardInterrupt, raised in whichever greenlet happens to run.
- Every container stops at once: the gateway's requests in flight wait (up to
  ``RPC_TIMEOUT_SECONDS``) for services that have already stopped consuming, and its HTTP
  server keeps accepting requests while it stops, so under load the stop does not drain.
- Nothing bounds a stop: a consumer waiting for a broker that is down, a long timer run.

`CleanStop` is in every service (`shared.web.ServiceBase`). Under ``nameko run`` it takes SIGTERM
and SIGINT over; the first of either starts one stop, later ones are logged and ignored:

1. every service stops taking work of its own accord: its HTTP server closes its listening
   socket and answers a request on a connection still open with 503 + ``Connection: close``
   (`shared.web`), its timers start no new run (`shared.leases`), the dispatch planner plans no
   further tenant; `is_stopping` tells code that loops;
2. the services stop in waves (`stop_waves`): one stops once every service that calls it by RPC
   has stopped (the gateway first, so its requests in flight get their answers), each as nameko
   stops a container: consumers cancelled, running workers finished (their messages acked),
   then its dependencies (the outbox relay: what it has not published stays in the outbox and
   goes out after the restart);
3. what is still stopping ``STOP_TIMEOUT_SECONDS`` (default 8) after the signal is killed: its
   workers are interrupted and their messages, never acked, go back to the broker when the
   connection closes, to be delivered again (consumers drop a message they handled before).

Then ``nameko run`` exits 0. The stop is logged (``stopped in N s``, WARNING when it had to
kill). Elsewhere (tests, ``fsm demo``) nothing is taken over: a container's own ``stop()`` still
marks it stopping, so timers, HTTP and the planner behave the same.
"""

from __future__ import annotations

import logging
import signal
import time
from collections.abc import Callable
from typing import Any

import eventlet
from nameko.extensions import DependencyProvider
from nameko.rpc import RpcProxy

log = logging.getLogger(__name__)

STOP_TIMEOUT_KEY = "STOP_TIMEOUT_SECONDS"
DEFAULT_STOP_TIMEOUT = 8.0  # s; with the kill and the exit the process is gone within 10 s
KILL_WAIT = 1.5  # s given to the kill of a container that did not stop in time

_FLAG = "_fsm_stopping"
_HOOKS = "_fsm_on_stopping"


# ------------------------------------------------------------------ one container's state
def is_stopping(container: Any) -> bool:
    """True once `container` has begun to stop (a signal, or its own ``stop()``)."""
    return bool(getattr(container, _FLAG, False))


def on_stopping(container: Any, hook: Callable[[], None]) -> None:
    """Call `hook` when `container` begins to stop (at once if it has)."""
    if is_stopping(container):
        hook()
        return
    hooks: list[Callable[[], None]] | None = getattr(container, _HOOKS, None)
    if hooks is None:
        hooks = []
        setattr(container, _HOOKS, hooks)
    hooks.append(hook)


def begin_stopping(container: Any) -> None:
    """Mark `container` stopping and run its hooks, once: it takes no new work of its own
    accord (HTTP, timers); what is running finishes."""
    if is_stopping(container):
        return
    setattr(container, _FLAG, True)
    for hook in getattr(container, _HOOKS, None) or ():
        try:
            hook()
        except Exception as exc:  # one hook failing must not keep the others from running
            log.warning("stopping %s: %r failed: %s", container.service_name, hook, exc)


# ------------------------------------------------------------------ the order
def rpc_targets(container: Any) -> set[str]:
    """The services `container` calls by RPC (its RpcProxy dependencies)."""
    return {dep.target_service for dep in container.dependencies if isinstance(dep, RpcProxy)}


def stop_waves(calls: dict[str, set[str]]) -> list[list[str]]:
    """Services in stopping order, from ``{service: services it calls by RPC}``: each wave holds
    the services no service still running calls, so callers stop before what they call (the
    gateway before the rest). Services calling each other in a cycle stop together."""
    remaining = dict(calls)
    waves: list[list[str]] = []
    while remaining:
        called = set().union(*remaining.values())
        wave = sorted(name for name in remaining if name not in called) or sorted(remaining)
        waves.append(wave)
        for name in wave:
            del remaining[name]
    return waves


# ------------------------------------------------------------------ the process
class ProcessStop:
    """The process-wide stop under ``nameko run``: the containers of the process and the one
    stop the first SIGTERM or SIGINT starts."""

    def __init__(self) -> None:
        self.containers: list[Any] = []
        self.installed = False
        self.signal_name: str | None = None
        self.timeout = DEFAULT_STOP_TIMEOUT

    # ---------------------------------------------------------- set-up
    def adopt(self, container: Any) -> bool:
        """Take the signals over if this process is ``nameko run`` (its SIGTERM handler is in
        place), and count `container` in. False elsewhere: nothing is changed."""
        if not self.installed:
            handler = signal.getsignal(signal.SIGTERM)
            if not _is_nameko_run_handler(handler):
                return False
            # every container of the runner, also one whose set-up has not come to this yet
            # when a signal arrives (a pod stopped while it starts)
            self.containers.extend(_runner_containers(handler))
            signal.signal(signal.SIGTERM, self._on_signal)
            signal.signal(signal.SIGINT, self._on_signal)
            self.installed = True
        if container not in self.containers:
            self.containers.append(container)
            configured = container.config.get(STOP_TIMEOUT_KEY)
            if configured not in (None, ""):
                self.timeout = float(configured)
        return True

    def _on_signal(self, signum: int, frame: Any) -> None:
        # a signal handler runs between two bytecodes of whatever greenlet runs: it may not
        # block or switch (no logging, no eventlet primitives), so the work is a new greenlet
        eventlet.spawn_n(self._signalled, signal.Signals(signum).name)

    def _signalled(self, name: str) -> None:
        if self.signal_name is not None:
            log.info("%s received while stopping (on %s): the stop goes on", name, self.signal_name)
            return
        self.signal_name = name
        self.stop_all()

    # ---------------------------------------------------------- the stop
    def stop_all(self) -> None:
        started = time.monotonic()
        deadline = started + self.timeout
        running = [c for c in self.containers if not c._died.ready()]
        names = ", ".join(sorted(c.service_name for c in running))
        log.info("%s: stopping %s (at most %.0f s)", self.signal_name or "stop", names, self.timeout)
        for container in running:
            begin_stopping(container)
        by_name = {c.service_name: c for c in running}
        stopping: list[Any] = []  # (container, greenthread) of the waves begun
        took: dict[str, float] = {}  # seconds from the signal until each container had stopped
        for wave in stop_waves({name: rpc_targets(c) & set(by_name) for name, c in by_name.items()}):
            threads = [(by_name[name], eventlet.spawn(by_name[name].stop)) for name in wave]
            stopping.extend(threads)
            for container, thread in threads:
                _wait(thread, deadline, container.service_name)
                if container._died.ready():
                    took.setdefault(container.service_name, time.monotonic() - started)
            if time.monotonic() >= deadline:
                break
        late = [c for c in running if not c._died.ready()]
        if late:
            self._kill(late, stopping, started)
            return
        log.info(
            "stopped %s in %.1f s (%s)",
            names,
            time.monotonic() - started,
            ", ".join(f"{name} {seconds:.1f} s" for name, seconds in sorted(took.items(), key=lambda kv: kv[1])),
        )

    def _kill(self, late: list[Any], stopping: list[Any], started: float) -> None:
        log.warning(
            "still stopping after %.1f s: %s; killed (unacknowledged messages go back to the broker)",
            time.monotonic() - started,
            ", ".join(sorted(c.service_name for c in late)),
        )
        for container, thread in stopping:
            if container in late:
                thread.kill()  # its stop must not go on against a killed container
        killers = [(c, eventlet.spawn(c.kill)) for c in late]
        give_up = time.monotonic() + KILL_WAIT
        for container, thread in killers:
            _wait(thread, give_up, container.service_name)
            if not container._died.ready():  # a kill that hangs (an extension stuck): let go
                container._died.send(None)
        log.warning("stopped in %.1f s (killed: %d)", time.monotonic() - started, len(late))


def _wait(thread: Any, deadline: float, what: str) -> None:
    """Wait for `thread` until monotonic `deadline`; an error it raised is logged."""
    left = deadline - time.monotonic()
    if left <= 0:
        return
    try:
        with eventlet.Timeout(left, False):
            thread.wait()
    except Exception:
        log.exception("stopping %s failed", what)


def _runner_containers(handler: Any) -> list[Any]:
    """The containers of the ServiceRunner that ``nameko run``'s handler stops (its closure)."""
    for cell in getattr(handler, "__closure__", None) or ():
        try:
            containers = getattr(cell.cell_contents, "containers", None)
        except ValueError:  # an empty cell
            continue
        if isinstance(containers, list):
            return list(containers)
    return []


def _is_nameko_run_handler(handler: Any) -> bool:
    """Whether `handler` is the SIGTERM handler ``nameko run`` installs (``run.<locals>.shutdown``)."""
    return getattr(handler, "__module__", None) == "nameko.cli.run" and getattr(handler, "__qualname__", "").startswith(
        "run."
    )


PROCESS = ProcessStop()


class CleanStop(DependencyProvider):  # type: ignore[misc]  # nameko is untyped: its base is Any
    """In every service (`shared.web.ServiceBase`): under ``nameko run`` the process stops as
    the module says; elsewhere it does nothing."""

    def setup(self) -> None:
        PROCESS.adopt(self.container)

    def stop(self) -> None:
        begin_stopping(self.container)

    def kill(self) -> None:
        begin_stopping(self.container)
