"""Supervisors: strategies, restart types, intensity and escalation, shutdown, dynamic children."""

from __future__ import annotations

import gc
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from actorflow.pytest_plugin import wait_until
from actors import PID, Error, Node, Probe, errors
from supervision import (
    Backoff,
    ChildSpec,
    ChildState,
    SupervisorRef,
    SupervisorSpec,
    format_tree,
    start_dynamic_supervisor,
    start_supervisor,
    supervisor_child,
)
from supervision.supervisor import INTENSITY_MESSAGE

from .helpers import obeys_cancel, waits
from .supervision_support import (
    CrashOnRestart,
    CrashOnStart,
    FailsToRestart,
    FakeClock,
    FakeTimers,
    Log,
    Stubborn,
    Worker,
)


@pytest.fixture
def log() -> Log:
    return Log()


def three(log: Log, **options: Any) -> list[ChildSpec]:
    return [ChildSpec(name, Worker, args=(log, name), **options) for name in ("a", "b", "c")]


def pids(sup: SupervisorRef) -> dict[str, PID | None]:
    return {child["id"]: child["pid"] for child in sup.which_children()}


def restarted(
    sup: SupervisorRef, before: dict[str, PID | None], names: tuple[str, ...]
) -> dict[str, PID | None]:
    wait_until(lambda: all(pids(sup)[name] not in (None, before[name]) for name in names))
    return pids(sup)


# -- strategies, three children ------------------------------------------------------------------


def test_children_start_in_order_and_stop_in_reverse(node: Node, log: Log) -> None:
    sup = start_supervisor(node, SupervisorSpec(three(log)))
    assert log.wait_for(3) == [("start", "a"), ("start", "b"), ("start", "c")]
    sup.stop()
    assert log.wait_for(3) == [("stop", "c"), ("stop", "b"), ("stop", "a")]


def test_one_for_one_restarts_only_the_failed_child(node: Node, log: Log) -> None:
    sup = start_supervisor(node, SupervisorSpec(three(log), strategy="one_for_one"))
    log.wait_for(3)
    before = pids(sup)
    node.send(before["b"], "crash")
    after = restarted(sup, before, ("b",))
    assert after["a"] == before["a"] and after["c"] == before["c"]
    assert log.wait_for(2) == [("down", "b"), ("start", "b")]
    assert {child["id"]: child["restarts"] for child in sup.which_children()} == {"a": 0, "b": 1, "c": 0}
    sup.stop()


def test_one_for_all_stops_the_others_in_reverse_then_restarts_all_in_order(node: Node, log: Log) -> None:
    sup = start_supervisor(node, SupervisorSpec(three(log), strategy="one_for_all"))
    log.wait_for(3)
    before = pids(sup)
    node.send(before["b"], "crash")
    after = restarted(sup, before, ("a", "b", "c"))
    assert set(after.values()).isdisjoint(before.values())
    assert log.wait_for(6) == [
        ("down", "b"),
        ("stop", "c"),
        ("stop", "a"),
        ("start", "a"),
        ("start", "b"),
        ("start", "c"),
    ]
    sup.stop()


def test_rest_for_one_restarts_the_failed_child_and_those_started_after_it(node: Node, log: Log) -> None:
    sup = start_supervisor(node, SupervisorSpec(three(log), strategy="rest_for_one"))
    log.wait_for(3)
    before = pids(sup)
    node.send(before["b"], "crash")
    after = restarted(sup, before, ("b", "c"))
    assert after["a"] == before["a"]
    assert log.wait_for(4) == [("down", "b"), ("stop", "c"), ("start", "b"), ("start", "c")]
    sup.stop()


# -- restart types -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("restart", "how", "expect_restart"),
    [
        ("permanent", "exit", True),
        ("permanent", "crash", True),
        ("transient", "exit", False),
        ("transient", "crash", True),
        ("temporary", "exit", False),
        ("temporary", "crash", False),
    ],
)
def test_restart_types(node: Node, log: Log, restart: str, how: str, expect_restart: bool) -> None:
    sup = start_supervisor(node, SupervisorSpec([ChildSpec("w", Worker, args=(log, "w"), restart=restart)]))
    log.wait_for(1)
    before = pids(sup)["w"]
    node.send(before, how)
    if expect_restart:
        wait_until(lambda: pids(sup).get("w") not in (None, before))
        assert sup.which_children()[0]["restarts"] == 1
    else:
        wait_until(lambda: not node.is_alive(before))
        seen: list[list[dict[str, Any]]] = []

        def exit_handled() -> bool:
            # Its EXIT and the restart rule are one step of the supervisor: once the supervisor
            # no longer lists that PID, a restart would have been made.
            seen.append(sup.which_children())
            return all(child["pid"] != before for child in seen[-1])

        wait_until(exit_handled, what="the supervisor to handle the child's EXIT")
        children = seen[-1]
        if restart == "temporary":
            assert children == []  # a temporary child's spec goes away with it
        else:
            # It ended on its own, for good: EXITED (STOPPED is for an end the supervisor asked for).
            assert children[0]["pid"] is None and children[0]["status"] is ChildState.EXITED
    sup.stop()


# -- intensity and escalation ---------------------------------------------------------------------------


def test_intensity_exceeded_stops_children_in_reverse_and_exits_with_an_error(node: Node, log: Log) -> None:
    with Probe(node) as probe:
        sup = start_supervisor(node, SupervisorSpec(three(log), max_restarts=1, max_seconds=10))
        probe.monitor(sup.pid)
        log.wait_for(3)
        node.send(pids(sup)["b"], "crash")
        first = restarted(sup, {"b": None, **pids(sup)}, ("b",))
        log.wait_for(2)
        node.send(first["b"], "crash")
        event = probe.expect_exit(sup.pid, error_kind=errors.LIMIT_EXCEEDED)
        assert "max restart intensity" in event.error.message()  # type: ignore[union-attr]
        assert event.error.details()["child"] == "b"  # type: ignore[union-attr]
        assert log.wait_for(3) == [("down", "b"), ("stop", "c"), ("stop", "a")]


def test_escalation_two_levels_up(node: Node, log: Log) -> None:
    leaf = SupervisorSpec(
        [ChildSpec("worker", Worker, args=(log, "worker"))], max_restarts=1, max_seconds=30, name="leaf"
    )
    mid = SupervisorSpec([supervisor_child("leaf", leaf)], max_restarts=1, max_seconds=30, name="mid")
    top = SupervisorSpec([supervisor_child("mid", mid)], max_restarts=5, max_seconds=30, name="top")
    sup = start_supervisor(node, top)

    def worker_pid() -> PID | None:
        tree = sup.tree()
        mid_tree = tree["children"][0].get("tree")
        leaf_tree = mid_tree and mid_tree["children"][0].get("tree")
        return leaf_tree and leaf_tree["children"][0]["pid"]

    def crash_worker() -> None:
        worker = wait_until(worker_pid)
        node.send(worker, "crash")
        # Handled (and counted) once a new worker runs, restarted by the leaf or by a new leaf.
        wait_until(lambda: worker_pid() not in (None, worker), what=f"a worker in place of {worker}")

    wait_until(lambda: worker_pid() is not None)
    mid_pid = sup.which_children()[0]["pid"]
    # Two crashes exceed the leaf's intensity: the leaf fails, the mid restarts it (its 1st restart).
    crash_worker()
    crash_worker()
    wait_until(lambda: sup.tree()["children"][0]["tree"]["children"][0]["restarts"] == 1)
    assert sup.which_children()[0]["pid"] == mid_pid
    # Two more: the new leaf fails too, the mid exceeds its own intensity and the top restarts it.
    crash_worker()
    crash_worker()
    wait_until(lambda: sup.which_children()[0]["restarts"] == 1)
    assert sup.which_children()[0]["pid"] != mid_pid
    assert sup.alive
    wait_until(lambda: worker_pid() is not None)
    sup.stop()


# -- shutdown ---------------------------------------------------------------------------------------------


def test_shutdown_timeout_is_honoured_for_a_child_that_ignores_cancel(node: Node, log: Log) -> None:
    sup = start_supervisor(
        node, SupervisorSpec([ChildSpec("stubborn", Stubborn, args=(log, "stubborn"), shutdown=0.3)])
    )
    log.wait_for(1)
    started = time.monotonic()
    sup.terminate_child("stubborn")
    elapsed = time.monotonic() - started
    assert 0.3 <= elapsed < 1.5
    assert log.wait_for(2) == [("ignored_cancel", "stubborn"), ("killed", "stubborn")]
    assert sup.which_children()[0]["status"] == "stopped"
    sup.stop()


def test_brutal_kill_and_infinity(node: Node, log: Log) -> None:
    children = [
        ChildSpec("killed", Stubborn, args=(log, "killed"), shutdown="brutal_kill"),
        ChildSpec("patient", obeys_cancel, shutdown="infinity"),
    ]
    sup = start_supervisor(node, SupervisorSpec(children))
    started = time.monotonic()
    sup.terminate_child("killed")
    assert time.monotonic() - started < 0.5
    assert ("killed", "killed") in log.wait_for(2)
    sup.terminate_child("patient")
    assert [child["status"] for child in sup.which_children()] == ["stopped", "stopped"]
    sup.stop()


def test_a_supervisor_is_a_process_that_traps_links_and_stops_on_cancel(node: Node, log: Log) -> None:
    with Probe(node, trap_links=True) as probe:
        sup = start_supervisor(node, SupervisorSpec(three(log)))
        probe.monitor(sup.pid)
        probe.link(sup.pid)
        _value, error = sup.stop()
        assert error is None
        assert probe.expect_exit(sup.pid).error is None
        # Once the supervisor is gone, all it sends at its end has reached the probe.
        wait_until(lambda: node.process(sup.pid) is None, what=f"{sup.pid} gone")
        probe.expect_nothing(within=0)  # a normal exit: no LINK_DOWN


def test_pykka_stop_of_a_supervisor_stops_its_children_first(node: Node, log: Log) -> None:
    sup = start_supervisor(node, SupervisorSpec(three(log)))
    log.wait_for(3)
    children = list(pids(sup).values())
    assert node.actor_ref(sup.pid).stop(timeout=5) is True
    wait_until(lambda: not sup.alive)
    assert log.wait_for(3) == [("stop", "c"), ("stop", "b"), ("stop", "a")]
    assert not any(node.is_alive(pid) for pid in children if pid is not None)


# -- start failure --------------------------------------------------------------------------------------------


def test_a_child_that_fails_to_start_fails_the_supervisor_start(node: Node, log: Log) -> None:
    baseline = node.process_count()
    children = [
        ChildSpec("a", Worker, args=(log, "a")),
        ChildSpec("b", "app:no_such_entry"),
        ChildSpec("c", Worker, args=(log, "c")),
    ]
    with pytest.raises(Error) as info:
        start_supervisor(node, SupervisorSpec(children))
    assert info.value.kind() == errors.NOT_FOUND
    assert info.value.message().startswith("child b failed to start: entry 'app:no_such_entry' not found")
    assert log.wait_for(2) == [("start", "a"), ("stop", "a")]
    wait_until(lambda: node.process_count() == baseline)


def test_a_child_crashing_in_on_start_fails_the_supervisor_start(node: Node, log: Log) -> None:
    """Children start one after the other, each once the previous one's on_start returned."""
    baseline = node.process_count()
    children = [
        ChildSpec("a", Worker, args=(log, "a")),
        ChildSpec("b", CrashOnStart),
        ChildSpec("c", Worker, args=(log, "c")),
    ]
    with pytest.raises(Error) as info:
        start_supervisor(node, SupervisorSpec(children))
    assert info.value.kind() == errors.INTERNAL
    assert info.value.message() == "child b failed to start: RuntimeError: cannot start"
    # The supervisor and all it spawned are gone: a start of c would be in the log by now.
    wait_until(lambda: node.process_count() == baseline)
    assert log.take() == [("start", "a"), ("stop", "a")]  # c never started


def test_a_nested_supervisor_that_fails_to_start_fails_its_parent(node: Node, log: Log) -> None:
    inner = SupervisorSpec([ChildSpec("w", Worker, args=(log, "w")), ChildSpec("bad", CrashOnStart)])
    outer = SupervisorSpec(
        [supervisor_child("inner", inner), ChildSpec("after", Worker, args=(log, "after"))]
    )
    with pytest.raises(Error) as info:
        start_supervisor(node, outer)
    assert info.value.message() == (
        "child inner failed to start: child bad failed to start: RuntimeError: cannot start"
    )
    assert log.wait_for(2) == [("start", "w"), ("stop", "w")]


def test_start_child_reports_a_child_that_fails_to_start_and_does_not_keep_it(node: Node, log: Log) -> None:
    sup = start_supervisor(node, SupervisorSpec([ChildSpec("a", Worker, args=(log, "a"))]))
    with pytest.raises(Error) as info:
        sup.start_child(ChildSpec("b", CrashOnStart))
    assert info.value.message() == "child b failed to start: RuntimeError: cannot start"
    assert [child["id"] for child in sup.which_children()] == ["a"]
    assert sup.start_child(ChildSpec("c", Worker, args=(log, "c"))) in [
        c["pid"] for c in sup.which_children()
    ]
    sup.stop()


def test_a_callable_start_that_raises_fails_the_start(node: Node) -> None:
    def broken() -> PID:
        raise Error(errors.UNAVAILABLE, "database down")

    with pytest.raises(Error) as info:
        start_supervisor(node, SupervisorSpec([ChildSpec("db", broken)]))
    assert info.value.kind() == errors.UNAVAILABLE and "database down" in info.value.message()


def test_a_child_whose_construction_raises_fails_the_start_at_once(node: Node) -> None:
    """Not a TIMEOUT after the whole start timeout: the child's own error, named after it."""
    started = time.monotonic()
    with pytest.raises(Error) as info:
        start_supervisor(
            node, SupervisorSpec([ChildSpec("w", Worker)]), timeout=5
        )  # Worker needs (log, name)
    assert time.monotonic() - started < 2
    assert info.value.kind() == errors.INTERNAL
    assert info.value.message().startswith("child w failed to start: TypeError: Worker.__init__() missing")


def test_bad_specs_are_invalid() -> None:
    for make in (
        lambda: ChildSpec("", Worker),
        lambda: ChildSpec("x", Worker, restart="sometimes"),
        lambda: ChildSpec("x", Worker, shutdown=-1),
        lambda: ChildSpec("x", 42),
        lambda: SupervisorSpec([ChildSpec("x", Worker), ChildSpec("x", Worker)]),
        lambda: SupervisorSpec(strategy="one_for_some"),
        lambda: SupervisorSpec(strategy="simple_one_for_one"),
        lambda: Backoff(factor=0.5),
    ):
        with pytest.raises(Error) as info:
            make()
        assert info.value.kind() == errors.INVALID


# -- dynamic children --------------------------------------------------------------------------------------


def test_dynamic_children_of_a_static_supervisor(node: Node, log: Log) -> None:
    sup = start_supervisor(node, SupervisorSpec(three(log)[:1]))
    extra = sup.start_child(ChildSpec("extra", Worker, args=(log, "extra")))
    assert node.is_alive(extra)
    with pytest.raises(Error) as duplicate:
        sup.start_child(ChildSpec("extra", Worker, args=(log, "extra")))
    assert duplicate.value.kind() == errors.ALREADY_EXISTS
    assert sup.count_children() == {"specs": 2, "active": 2, "supervisors": 0, "workers": 2}
    with pytest.raises(Error) as running:
        sup.delete_child("extra")
    assert running.value.kind() == errors.INVALID_STATE
    sup.terminate_child("extra")
    assert not node.is_alive(extra)
    assert pids(sup)["extra"] is None
    again = sup.restart_child("extra")
    assert again != extra and node.is_alive(again)
    sup.terminate_child("extra")
    sup.delete_child("extra")
    assert [child["id"] for child in sup.which_children()] == ["a"]
    with pytest.raises(Error) as missing:
        sup.terminate_child("nobody")
    assert missing.value.kind() == errors.NOT_FOUND
    sup.stop()


def test_simple_one_for_one_with_max_children(node: Node, log: Log) -> None:
    template = ChildSpec("session", Worker, args=(log,))
    sup = start_dynamic_supervisor(node, template, max_children=2)
    first = sup.start_child("alice")
    second = sup.start_child("bob")
    with pytest.raises(Error) as full:
        sup.start_child("carol")
    assert full.value.kind() == errors.LIMIT_EXCEEDED
    assert [child["id"] for child in sup.which_children()] == ["session-1", "session-2"]
    node.send(first, "crash")
    wait_until(lambda: sup.which_children()[0]["pid"] not in (None, first))
    sup.terminate_child(second)
    assert sup.count_children()["specs"] == 1
    sup.start_child("dave")
    assert sup.count_children()["active"] == 2
    sup.stop()


# -- trap_links inside a tree --------------------------------------------------------------------------------


@pytest.mark.parametrize("trap", [False, True])
def test_a_worker_linked_to_a_crashing_peer(node: Node, log: Log, trap: bool) -> None:
    children = [ChildSpec("peer", Worker, args=(log, "peer")), ChildSpec("x", Worker, args=(log, "x", trap))]
    sup = start_supervisor(node, SupervisorSpec(children))
    log.wait_for(2)
    before = pids(sup)
    node.send(before["x"], "link", before["peer"])
    assert node.actor_ref(before["x"]).ask("sync") is None  # the link is in place
    node.send(before["peer"], "crash")
    if trap:
        after = restarted(sup, before, ("peer",))
        assert after["x"] == before["x"]
        assert sorted(log.wait_for(3)) == [("down", "peer"), ("link_down", "x"), ("start", "peer")]
    else:
        restarted(sup, before, ("peer", "x"))
        events = log.wait_for(4)
        assert ("down", "x") in events and ("down", "peer") in events
    sup.stop()


# -- backoff, leaks, introspection, Lua children --------------------------------------------------------------


def test_restart_backoff_grows_and_resets_after_a_stable_run(node: Node, log: Log) -> None:
    clock = FakeClock()
    timers = FakeTimers()
    backoff = Backoff(initial=0.1, factor=2.0, maximum=0.5, jitter=0.0, reset_after=10.0)
    spec = SupervisorSpec(
        [ChildSpec("w", Worker, args=(log, "w"))], max_restarts=100, max_seconds=60, backoff=backoff
    )
    sup = start_supervisor(node, spec, clock=clock, timers=timers)
    for _ in range(5):
        wait_until(lambda: pids(sup)["w"] is not None)
        node.send(pids(sup)["w"], "crash")
        timers.wait_pending()
        assert sup.which_children()[0]["status"] == "restarting"
        timers.fire_all()
    assert timers.delays == [0.1, 0.2, 0.4, 0.5, 0.5]
    wait_until(lambda: pids(sup)["w"] is not None)
    clock.advance(11)  # a stable run: the next restart starts from the initial delay again
    node.send(pids(sup)["w"], "crash")
    timers.wait_pending()
    assert timers.delays[-1] == 0.1
    sup.stop()
    assert timers.handles == [] or all(handle.callback is None for handle in timers.handles)


def test_terminate_child_during_a_backoff_wait_cancels_the_restart(node: Node, log: Log) -> None:
    timers = FakeTimers()
    spec = SupervisorSpec(
        [ChildSpec("w", Worker, args=(log, "w"))],
        max_restarts=10,
        max_seconds=60,
        backoff=Backoff(initial=1.0, jitter=0.0),
    )
    sup = start_supervisor(node, spec, timers=timers)
    node.send(pids(sup)["w"], "crash")
    timers.wait_pending()
    assert sup.which_children()[0]["status"] == "restarting"
    sup.terminate_child("w")
    timers.fire_all()
    # Answered after whatever fire_all sent the supervisor: a restart it made would show here.
    assert sup.which_children()[0]["status"] == "stopped" and pids(sup)["w"] is None
    assert log.take() == [("start", "w"), ("down", "w")]  # the crash, and no start after it
    assert sup.restart_child("w") is not None  # until asked to
    sup.stop()


def test_workers_that_trap_links_end_when_their_supervisor_is_killed(node: Node, log: Log) -> None:
    """OTP's parent rule: a child ends with its parent even when it traps exits (no orphans)."""
    baseline = node.process_count()
    sup = start_supervisor(node, SupervisorSpec([ChildSpec("w", Worker, args=(log, "w", True))]))
    worker = pids(sup)["w"]
    with Probe(node) as probe:
        probe.monitor(worker)
        node.terminate(sup.pid)
        event = probe.expect_exit(worker)
    assert event.error is not None and event.error.message() == "linked process failed"
    assert (event.error.details() or {})["pid"] == str(sup.pid)
    assert ("link_down", "w") not in log.take()  # ended, not told
    wait_until(lambda: node.process_count() == baseline)


def test_a_stopped_tree_leaves_no_processes_threads_or_timers() -> None:
    threads = threading.active_count()
    node = Node(workers=2)
    log = Log()
    baseline = node.process_count()
    leaf = SupervisorSpec([ChildSpec(f"w{i}", Worker, args=(log, f"w{i}")) for i in range(10)])
    spec = SupervisorSpec(
        [supervisor_child(f"leaf{i}", leaf) for i in range(3)]
        + [ChildSpec("polite", obeys_cancel), ChildSpec("waiter", waits, shutdown=0.2)],
        strategy="one_for_all",
        backoff=Backoff(initial=5.0),
    )
    sup = start_supervisor(node, spec)
    wait_until(lambda: node.process_count() == baseline + 1 + 3 + 30 + 2)
    sup.stop()
    wait_until(lambda: node.process_count() == baseline)
    assert node.timers.pending_count() == 0
    node.shutdown(timeout=1)
    gc.collect()
    wait_until(lambda: threading.active_count() == threads)


def test_tree_introspection_as_data_and_text(node: Node, log: Log) -> None:
    leaf = SupervisorSpec([ChildSpec("worker", Worker, args=(log, "worker"))], name="leaf")
    sup = start_supervisor(
        node, SupervisorSpec([supervisor_child("leaf", leaf), *three(log)[:1]], name="root")
    )
    log.wait_for(2)
    tree = sup.tree()
    assert tree["id"] == "root" and tree["strategy"] == "one_for_one" and tree["status"] == "running"
    assert [child["id"] for child in tree["children"]] == ["leaf", "a"]
    assert tree["children"][0]["tree"]["children"][0]["id"] == "worker"
    text = format_tree(tree)
    lines = text.splitlines()
    assert lines[0].startswith(f"root (one_for_one) {sup.pid}  running  restarts 0")
    assert lines[1].startswith("├── leaf") and "(one_for_one)" in lines[1]
    assert lines[2].startswith("│   └── worker") and "running  restarts 0" in lines[2]
    assert lines[3].startswith("└── a ")
    sup.stop()


def test_a_child_crashing_on_restart_counts_towards_the_intensity(node: Node) -> None:
    """OTP: a restart whose start fails is tried again, and counts as a restart."""
    starts: list[int] = []
    with Probe(node) as probe:
        with probe.acting():
            spec = SupervisorSpec(
                [ChildSpec("flaky", CrashOnRestart, args=(starts,))], max_restarts=3, max_seconds=10
            )
            sup = start_supervisor(node, spec, monitor=True)
        node.send(sup.which_children()[0]["pid"], "crash")
        event = probe.expect_exit(sup.pid, error_kind=errors.LIMIT_EXCEEDED)
        assert event.error.details()["reason"]["message"] == "RuntimeError: cannot restart"  # type: ignore[union-attr]
    assert len(starts) == 4  # the first start, then three restarts that crashed in on_start


@pytest.mark.parametrize("strategy", ["one_for_one", "one_for_all", "rest_for_one"])
def test_a_child_that_keeps_failing_to_restart_at_once_reaches_the_intensity_whatever_its_size(
    node: Node, strategy: str
) -> None:
    """No backoff and a spawn that fails at once: 5000 restarts in one step, one after the other.

    Each failed restart counts and starts the next within the same step; they
    must not nest (Python's recursion limit), whatever ``max_restarts`` is.
    """
    constructions: list[int] = []
    spec = SupervisorSpec(
        [ChildSpec("flaky", FailsToRestart, args=(constructions,))],
        strategy=strategy,  # type: ignore[arg-type]
        max_restarts=5000,
        max_seconds=60,
    )
    with Probe(node) as probe:
        with probe.acting():
            sup = start_supervisor(node, spec, monitor=True)
        node.send(pids(sup)["flaky"], "crash")
        event = probe.expect_exit(sup.pid, error_kind=errors.LIMIT_EXCEEDED, timeout=15)
    assert event.error is not None
    assert event.error.message() == f"{INTENSITY_MESSAGE}: more than 5000 restarts in 60 s"
    assert event.error.details() == {
        "child": "flaky",
        "reason": {"kind": errors.INTERNAL, "message": "RuntimeError: cannot restart"},
    }
    assert len(constructions) == 5001  # the first start, then 5000 restarts whose spawn failed


def test_a_retryable_child_whose_start_always_fails_gives_up_the_start_at_the_intensity(
    node: Node, caplog: pytest.LogCaptureFixture
) -> None:
    """The same loop in the supervisor's own start: ``start_supervisor`` raises the intensity error,
    and the supervisor ends by it, with no traceback from an answer given twice."""
    calls: list[int] = []

    def unavailable() -> PID:
        calls.append(1)
        raise Error(errors.UNAVAILABLE, "database down")

    spec = SupervisorSpec(
        [ChildSpec("db", unavailable, restart="retryable")], max_restarts=5000, max_seconds=60
    )
    baseline = node.process_count()
    with pytest.raises(Error) as info:
        start_supervisor(node, spec, timeout=15)
    assert info.value.kind() == errors.LIMIT_EXCEEDED
    assert info.value.message() == f"{INTENSITY_MESSAGE}: more than 5000 restarts in 60 s"
    assert info.value.details() == {
        "child": "db",
        "reason": {"kind": errors.UNAVAILABLE, "message": "database down"},
    }
    assert len(calls) == 5001
    wait_until(lambda: node.process_count() == baseline)
    assert [record.getMessage() for record in caplog.records if record.exc_info] == []


@pytest.fixture
def lua_app(tmp_path: Any) -> Iterator[Any]:
    from actorflow.app import App

    from .lua_support import HOST, lua_entry, write_app

    write_app(
        tmp_path,
        [HOST, lua_entry("worker")],
        {
            "worker.lua": """
            return {main = function(name)
              local inbox, events = process.inbox(), process.events()
              while true do
                local r = channel.select{inbox:case_receive(), events:case_receive()}
                if r.channel == events then return "cancelled" end
                if r.value:topic() == "crash" then error(name .. " crashed") end
              end
            end}
            """
        },
    )
    with App(tmp_path, extensions=[]) as app:
        yield app


def test_supervising_a_lua_process_entry(lua_app: Any) -> None:
    node = lua_app.node
    sup = start_supervisor(
        node, SupervisorSpec([ChildSpec("lua", "app:worker", args=("lua-1",), host="app:processes")])
    )
    first = pids(sup)["lua"]
    assert first is not None and first.host == "app:processes"
    node.send(first, "crash")
    wait_until(lambda: pids(sup)["lua"] not in (None, first))
    assert sup.which_children()[0]["restarts"] == 1
    sup.stop()


# -- requests, states, declared requirements ------------------------------------------------------------------


def test_a_request_to_a_supervisor_that_ends_before_answering_fails_instead_of_hanging(
    node: Node, log: Log
) -> None:
    sup = start_supervisor(
        node, SupervisorSpec([ChildSpec("stubborn", Stubborn, args=(log, "stubborn"), shutdown="infinity")])
    )
    log.wait_for(1)
    outcome: list[Error] = []

    def terminate() -> None:
        try:
            sup.terminate_child("stubborn")  # no timeout: waits for an EXIT that never comes
        except Error as err:
            outcome.append(err)

    waiter = threading.Thread(target=terminate)
    waiter.start()
    wait_until(lambda: ("ignored_cancel", "stubborn") in log.items)
    _value, error = sup.kill()
    assert error is not None and error.message() == "process terminated"
    waiter.join(5)
    assert not waiter.is_alive()
    assert [err.kind() for err in outcome] == [errors.NOT_FOUND]
    with pytest.raises(Error) as gone:
        sup.which_children()
    assert gone.value.kind() == errors.NOT_FOUND


def test_a_shutdown_during_terminate_child_answers_both(node: Node, log: Log) -> None:
    sup = start_supervisor(
        node, SupervisorSpec([ChildSpec("stubborn", Stubborn, args=(log, "stubborn"), shutdown=0.3)])
    )
    log.wait_for(1)
    answered = threading.Event()
    waiter = threading.Thread(target=lambda: (sup.terminate_child("stubborn"), answered.set()))
    waiter.start()
    wait_until(lambda: ("ignored_cancel", "stubborn") in log.items)
    _value, error = sup.stop(timeout=5)  # the child's stop is under way: the shutdown waits for the same EXIT
    assert error is None
    assert answered.wait(5)
    waiter.join(5)


def test_a_child_given_up_after_max_attempts_leaves_its_siblings_and_supervisor_running(
    node: Node, log: Log
) -> None:
    timers = FakeTimers()
    children = [
        ChildSpec("flaky", Worker, args=(log, "flaky"), max_attempts=2),
        ChildSpec("steady", Worker, args=(log, "steady")),
    ]
    spec = SupervisorSpec(children, max_restarts=None, backoff=Backoff(initial=1.0, jitter=0.0))
    sup = start_supervisor(node, spec, timers=timers)
    steady = pids(sup)["steady"]
    node.send(pids(sup)["flaky"], "crash")  # failed run 1: restarted after 1 s
    timers.wait_pending()
    assert sup.which_children()[0]["status"] is ChildState.RESTARTING
    timers.fire_all()
    wait_until(lambda: sup.which_children()[0]["status"] is ChildState.RUNNING)
    node.send(pids(sup)["flaky"], "crash")  # failed run 2 of 2: given up
    wait_until(lambda: sup.which_children()[0]["status"] is ChildState.FAILED)
    flaky = sup.which_children()[0]
    assert flaky["pid"] is None and flaky["attempts"] == 2 and flaky["restarts"] == 1
    assert flaky["last_error"] == {"kind": "INTERNAL", "message": "RuntimeError: flaky crashed"}
    assert timers.delays == [1.0]
    assert sup.alive and pids(sup)["steady"] == steady
    assert sup.restart_child("flaky") is not None  # by hand it starts again, with a fresh count
    assert sup.which_children()[0]["attempts"] == 0
    sup.stop()


def test_declared_requirements_set_start_restart_and_stop_order(node: Node, log: Log) -> None:
    children = [
        ChildSpec("api", Worker, args=(log, "api"), requires=("cache", "db")),
        ChildSpec("cache", Worker, args=(log, "cache"), requires=("db",)),
        ChildSpec("db", Worker, args=(log, "db")),
        ChildSpec("metrics", Worker, args=(log, "metrics")),
    ]
    sup = start_supervisor(node, SupervisorSpec(children, strategy="rest_for_one", order="declared"))
    started = log.wait_for(4)
    # Each starts once what it requires finished its first step; metrics needs nothing.
    order = [name for _event, name in started]
    assert order.index("db") < order.index("cache") < order.index("api")
    before = pids(sup)
    node.send(before["cache"], "crash")  # rest_for_one: cache and what requires it (api), not db or metrics
    after = restarted(sup, before, ("cache", "api"))
    assert after["db"] == before["db"] and after["metrics"] == before["metrics"]
    assert log.wait_for(4) == [("down", "cache"), ("stop", "api"), ("start", "cache"), ("start", "api")]
    sup.stop()
    stops = [name for _event, name in log.wait_for(4)]
    assert stops.index("api") < stops.index("cache") < stops.index("db")


def test_declared_children_that_ignore_cancel_stop_together(node: Node, log: Log) -> None:
    children = [ChildSpec(name, Stubborn, args=(log, name), shutdown=0.4) for name in ("a", "b", "c")]
    sup = start_supervisor(node, SupervisorSpec(children, order="declared"))
    log.wait_for(3)
    started = time.monotonic()
    sup.stop()
    assert 0.4 <= time.monotonic() - started < 1.0  # the longest shutdown, not the sum (1.2 s)
    assert sorted(log.wait_for(6)) == sorted(
        [(event, name) for name in ("a", "b", "c") for event in ("ignored_cancel", "killed")]
    )


def test_requirements_are_checked_up_front() -> None:
    def child(name: str, *requires: str) -> ChildSpec:
        return ChildSpec(name, Worker, requires=requires)

    cases = [
        (lambda: SupervisorSpec([child("a"), child("b", "a")]), "child b: requires needs order='declared'"),
        (
            lambda: SupervisorSpec([child("a", "z")], order="declared"),
            "child a requires unknown children: z",
        ),
        (
            lambda: SupervisorSpec([child("a", "b"), child("b", "c"), child("c", "a")], order="declared"),
            "children require each other in a cycle: a → b → c → a",
        ),
        (
            lambda: SupervisorSpec([ChildSpec("a", Worker, max_attempts=3)]),
            "child a: max_attempts needs a backoff (its reset_after says when a run was stable)",
        ),
        (
            lambda: SupervisorSpec([ChildSpec("a", Worker)], max_restarts=None),
            "child a: with max_restarts=None it needs a backoff (or a child that keeps failing to start "
            "would be restarted in a busy loop)",
        ),
    ]
    for make, message in cases:
        with pytest.raises(Error) as info:
            make()
        assert (info.value.kind(), info.value.message()) == (errors.INVALID, message)


def test_child_states_move_only_along_the_documented_transitions() -> None:
    from supervision._child import Child
    from supervision.state import TRANSITIONS

    assert set(TRANSITIONS) == set(ChildState)
    child = Child(ChildSpec("w", Worker))
    assert child.state is ChildState.UNKNOWN
    for state in (ChildState.STARTING, ChildState.RUNNING, ChildState.STOPPING, ChildState.STOPPED):
        child.move(state)
    with pytest.raises(Error) as info:
        child.move(ChildState.STOPPING)  # a stopped child is not running: nothing to stop
    assert info.value.kind() == errors.INTERNAL
    assert info.value.message() == "child w: no transition stopped → stopping"
