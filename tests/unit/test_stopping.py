"""shared.stopping: the order services stop in, and that only `nameko run` has its signals taken over."""

from __future__ import annotations

import signal
import types

from shared.stopping import ProcessStop, _is_nameko_run_handler, _runner_containers, stop_waves


def test_callers_stop_before_what_they_call():
    calls = {
        "gateway": {"intake", "dispatch", "parts", "qa"},
        "intake": set(),
        "dispatch": set(),
        "parts": set(),
        "qa": set(),
    }
    assert stop_waves(calls) == [["gateway"], ["dispatch", "intake", "parts", "qa"]]


def test_a_chain_stops_from_the_front_and_a_cycle_together():
    assert stop_waves({"a": {"b"}, "b": {"c"}, "c": set()}) == [["a"], ["b"], ["c"]]
    assert stop_waves({"a": {"b"}, "b": {"a"}, "c": {"a"}}) == [["c"], ["a", "b"]]
    assert stop_waves({}) == []


def _nameko_run_shutdown(runner=None):
    """The SIGTERM handler `nameko run` installs (``run.<locals>.shutdown``, whose closure holds
    its ServiceRunner), made from nameko's own code without running anything."""
    from nameko.cli import run as nameko_run

    code = next(c for c in nameko_run.run.__code__.co_consts if getattr(c, "co_name", None) == "shutdown")
    assert code.co_freevars == ("service_runner",)
    return types.FunctionType(code, vars(nameko_run), None, None, (types.CellType(runner),))


def test_only_nameko_runs_handler_is_taken_over():
    assert _is_nameko_run_handler(_nameko_run_shutdown())
    runner = types.SimpleNamespace(containers=["intake", "gateway"])  # what is read of a ServiceRunner
    assert _runner_containers(_nameko_run_shutdown(runner)) == ["intake", "gateway"]
    assert _runner_containers(signal.default_int_handler) == []
    assert not _is_nameko_run_handler(signal.getsignal(signal.SIGTERM))  # pytest's
    assert not _is_nameko_run_handler(signal.SIG_DFL)
    assert not _is_nameko_run_handler(lambda signum, frame: None)

    class Container:  # what `adopt` reads of a container
        config: dict = {}

    # under pytest the SIGTERM handler is not nameko's: nothing is changed
    before = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
    stop = ProcessStop()
    assert not stop.adopt(Container())
    assert (signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)) == before
    assert not stop.installed and stop.containers == []
