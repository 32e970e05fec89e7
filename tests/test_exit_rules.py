"""Conformance: the exit rules of the spec (section 5), seen from every side.

Each way a process can end (normal return, error, terminate, cancel) is
observed through a monitor, a link that traps, and a link that does not.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from actorflow.pytest_plugin import wait_until
from actors import PID, Actor, Error, Node, Probe, errors
from actors._process import LINKED_FAILED_MESSAGE, TERMINATED_MESSAGE
from actors.signals import Signal

from .helpers import Waiter, fails, ignores_cancel, obeys_cancel, returns, waits

# -- normal exit ---------------------------------------------------------------------------


def test_normal_exit_gives_monitor_exit_with_value(probe: Probe) -> None:
    pid = probe.spawn(returns, {"answer": 42}, monitor=True)
    event = probe.expect_exit(pid)
    assert event.value == {"answer": 42}
    assert event.error is None
    assert event.kind == "pid.exit"


def test_normal_exit_is_silent_for_a_trapping_link(probe: Probe) -> None:
    pid = probe.spawn(waits, link=True)
    probe.send(pid, "stop", "done")
    probe.expect_nothing(within=0.2)
    assert not probe.node.is_alive(pid)


def test_normal_exit_leaves_a_non_trapping_linked_process_alive(node: Node, probe: Probe) -> None:
    worker = probe.spawn(Waiter, monitor=True)
    target = probe.spawn(waits)
    probe.send(worker, "link", target)
    probe.send(target, "stop", "fine")
    probe.expect_nothing(within=0.2)
    assert node.is_alive(worker)


# -- error exit ------------------------------------------------------------------------------


def test_error_exit_gives_monitor_exit_with_error(probe: Probe) -> None:
    pid = probe.spawn(fails, "kaput", errors.NOT_FOUND, monitor=True)
    event = probe.expect_exit(pid, error_kind=errors.NOT_FOUND)
    assert event.error is not None and event.error.message() == "kaput"
    assert event.value is None


def test_error_exit_gives_trapping_link_link_down(probe: Probe) -> None:
    pid = probe.spawn(waits, link=True)
    probe.send(pid, "crash", "kaput")
    event = probe.expect_link_down(pid, error_kind=errors.INTERNAL)
    assert event.error is not None and event.error.message() == "kaput"
    assert event.kind == "pid.link.down"


def test_error_exit_kills_non_trapping_linked_process_naming_the_cause(probe: Probe) -> None:
    worker = probe.spawn(Waiter, monitor=True)
    target = probe.spawn(waits)
    probe.send(worker, "link", target)
    assert probe.node.actor_ref(worker).ask("sync") is None  # the link is in place
    probe.send(target, "crash", "kaput")
    event = probe.expect_exit(worker, error_kind=errors.UNKNOWN)
    assert event.error is not None
    assert event.error.message() == LINKED_FAILED_MESSAGE
    details = event.error.details() or {}
    assert details["pid"] == str(target)
    assert details["cause"] == {"kind": errors.INTERNAL, "message": "kaput"}


# -- terminate ---------------------------------------------------------------------------------


def test_terminate_seen_by_monitor(probe: Probe) -> None:
    pid = probe.spawn(waits, monitor=True)
    probe.terminate(pid)
    event = probe.expect_exit(pid, error_kind=errors.INTERNAL)
    assert event.error is not None and event.error.message() == TERMINATED_MESSAGE


def test_terminate_seen_by_trapping_link(probe: Probe) -> None:
    pid = probe.spawn(waits, link=True)
    probe.terminate(pid)
    event = probe.expect_link_down(pid, error_kind=errors.INTERNAL)
    assert event.error is not None and event.error.message() == TERMINATED_MESSAGE


def test_terminate_kills_non_trapping_link(probe: Probe) -> None:
    worker = probe.spawn(Waiter, monitor=True)
    target = probe.spawn(waits)
    probe.send(worker, "link", target)
    assert probe.node.actor_ref(worker).ask("sync") is None  # the link is in place
    probe.terminate(target)
    event = probe.expect_exit(worker)
    assert event.error is not None and event.error.message() == LINKED_FAILED_MESSAGE
    assert (event.error.details() or {})["cause"]["message"] == TERMINATED_MESSAGE


def test_terminate_of_dead_process_is_not_found(node: Node, probe: Probe) -> None:
    pid = probe.spawn(returns, monitor=True)
    probe.expect_exit(pid)
    with pytest.raises(Error) as info:
        node.terminate(pid)
    assert info.value.kind() == errors.NOT_FOUND


def test_terminate_skips_queued_messages(node: Node, probe: Probe) -> None:
    pid = probe.spawn(Waiter, probe.pid, monitor=True)
    ref = node.actor_ref(pid)
    gate_ready = ref.ask("noop")
    assert gate_ready is None
    for _ in range(1000):
        node.send(pid, "noop")
    node.terminate(pid)
    event = probe.expect_exit(pid)
    assert event.error is not None and event.error.message() == TERMINATED_MESSAGE


# -- cancel ----------------------------------------------------------------------------------------


def test_cancel_delivers_event_and_graceful_exit_is_normal(probe: Probe) -> None:
    pid = probe.spawn(obeys_cancel, "wrapped up", monitor=True, link=True)
    probe.cancel(pid, reason="shutting down")
    event = probe.expect_exit(pid)
    assert event.value == "wrapped up"
    assert event.error is None
    probe.expect_nothing(within=0.1)  # a normal exit sends no LINK_DOWN


def test_cancel_event_carries_sender_reason_and_deadline(node: Node) -> None:
    with Probe(node) as target, Probe(node) as canceller:
        canceller.cancel(target.pid, deadline=5.0, reason="bye")
        event = target.expect_cancel()
        assert event.sender == canceller.pid
        assert event.reason == "bye"
        assert event.deadline == 5.0
        assert event.kind == "pid.cancel"


def test_cancel_deadline_terminates_a_process_that_ignores_it(probe: Probe) -> None:
    pid = probe.spawn(ignores_cancel, monitor=True, link=True)
    started = time.monotonic()
    probe.cancel(pid, deadline=0.3)
    probe.expect_nothing(within=0.2)
    event = probe.expect_exit(pid, timeout=2.0)
    elapsed = time.monotonic() - started
    assert 0.3 <= elapsed < 1.5
    assert event.error is not None and event.error.message() == TERMINATED_MESSAGE
    probe.expect_link_down(pid)


def test_cancel_deadline_timer_is_released_when_target_exits_first(node: Node, probe: Probe) -> None:
    pid = probe.spawn(obeys_cancel, monitor=True)
    probe.cancel(pid, deadline=30.0)
    probe.expect_exit(pid)
    assert node.timers.pending_count() == 0


def test_cancel_of_dead_process_is_not_found(node: Node, probe: Probe) -> None:
    pid = probe.spawn(returns, monitor=True)
    probe.expect_exit(pid)
    with pytest.raises(Error) as info:
        node.cancel(pid)
    assert info.value.kind() == errors.NOT_FOUND


# -- links and monitors together ------------------------------------------------------------------


def test_exit_comes_before_link_down_for_linked_monitor(probe: Probe) -> None:
    pid = probe.spawn(waits, link=True, monitor=True)
    probe.send(pid, "crash")
    first = probe.receive()
    second = probe.receive()
    assert (first.kind, second.kind) == ("pid.exit", "pid.link.down")


def test_chain_of_three_linked_processes_goes_down_together(node: Node) -> None:
    with Probe(node) as observer:
        first = observer.spawn(Waiter, monitor=True)
        second = observer.spawn(Waiter, monitor=True)
        third = observer.spawn(waits, monitor=True)
        node.send(first, "link", second)
        node.send(second, "link", third)
        assert node.actor_ref(first).ask("sync") is None and node.actor_ref(second).ask("sync") is None
        node.send(third, "crash", "root cause")
        root = observer.expect_exit(third)
        middle = observer.expect_exit(second)
        outer = observer.expect_exit(first)
        assert root.error is not None and root.error.message() == "root cause"
        assert middle.error is not None and (middle.error.details() or {})["pid"] == str(third)
        assert outer.error is not None and (outer.error.details() or {})["pid"] == str(second)
        assert node.process_count() == 1  # only the observer probe


def test_link_to_dead_pid_fails_at_once(probe: Probe) -> None:
    pid = probe.spawn(returns, monitor=True)
    probe.expect_exit(pid)
    with pytest.raises(Error) as info:
        probe.link(pid)
    assert info.value.kind() == errors.NOT_FOUND
    probe.expect_nothing(within=0.1)


def test_monitor_of_dead_pid_fails_at_once(probe: Probe) -> None:
    pid = probe.spawn(returns, monitor=True)
    probe.expect_exit(pid)
    with pytest.raises(Error) as info:
        probe.monitor(pid)
    assert info.value.kind() == errors.NOT_FOUND
    probe.expect_nothing(within=0.1)


def test_monitoring_twice_is_already_exists(probe: Probe) -> None:
    pid = probe.spawn(waits, monitor=True)
    with pytest.raises(Error) as info:
        probe.monitor(pid)
    assert info.value.kind() == errors.ALREADY_EXISTS


def test_linking_twice_is_idempotent(probe: Probe) -> None:
    pid = probe.spawn(waits, link=True)
    probe.link(pid)
    probe.send(pid, "crash")
    probe.expect_link_down(pid)
    probe.expect_nothing(within=0.1)


def test_target_dying_while_monitor_request_is_in_flight_never_loses_the_exit(probe: Probe) -> None:
    """Erlang's noproc guarantee, raced many times: fail at once or get the EXIT."""
    refused = delivered = 0
    for index in range(1000):
        pid = probe.spawn(returns, index)
        try:
            probe.monitor(pid)
        except Error as err:
            assert err.kind() == errors.NOT_FOUND
            refused += 1
            continue
        event = probe.expect_exit(pid, timeout=2.0)
        assert event.value == index
        delivered += 1
    assert refused + delivered == 1000
    assert delivered > 0
    probe.expect_nothing(within=0.05)


def test_target_dying_while_link_request_is_in_flight_never_loses_the_link_down(probe: Probe) -> None:
    refused = delivered = 0
    for index in range(500):
        pid = probe.spawn(fails, f"failure {index}")
        try:
            probe.link(pid)
        except Error as err:
            assert err.kind() == errors.NOT_FOUND
            refused += 1
            continue
        event = probe.expect_link_down(pid, timeout=2.0)
        assert event.error is not None and event.error.message() == f"failure {index}"
        delivered += 1
    assert refused + delivered == 500
    probe.expect_nothing(within=0.05)


def test_unmonitor_while_exit_in_flight_delivers_nothing(probe: Probe) -> None:
    pid = probe.spawn(waits, monitor=True)
    probe.send(pid, "stop")
    wait_until(
        lambda: queued(probe.node, probe.pid, Signal.EXIT), what="the EXIT waits in the probe's mailbox"
    )
    probe.unmonitor(pid)
    probe.expect_nothing(within=0.2)


def test_unlink_while_exit_in_flight_delivers_nothing(probe: Probe) -> None:
    pid = probe.spawn(waits, link=True)
    probe.send(pid, "crash")
    wait_until(
        lambda: queued(probe.node, probe.pid, Signal.LINK_DOWN),
        what="the LINK_DOWN waits in the probe's mailbox",
    )
    probe.unlink(pid)
    probe.expect_nothing(within=0.2)


def test_unlink_in_an_actor_drops_a_link_down_already_queued(node: Node, probe: Probe) -> None:
    """The actor's own unlink runs before it handles the queued LINK_DOWN: nothing kills it."""
    worker = probe.spawn(Waiter, probe.pid, monitor=True)
    target = probe.spawn(waits, monitor=True)
    node.send(worker, "link", target)
    ref = node.actor_ref(worker)
    assert ref.ask("sync") is None  # the link is in place
    # Queue, in this order, in the worker's mailbox: a slow call, then unlink,
    # while the target's LINK_DOWN arrives behind the unlink request.
    slow = ref.proxy().on_receive("noop")
    node.send(worker, "unlink", target)
    node.send(target, "crash")
    probe.expect_exit(target)
    slow.get(timeout=2)
    probe.expect_nothing(within=0.2)
    assert node.is_alive(worker)


# -- the in-flight races, forced ----------------------------------------------------------------------
#
# The repeated races above may or may not hit the window; these put the
# requests exactly in it: an actor on its own thread is held inside a handler
# while the request or the exit is queued behind it.


class Held(Actor):
    """On "hold" or "die": waits at ``gate`` inside the handler; then "die" raises, and
    "hold" drops the relation its payload names (``["monitor" | "link", pid]``)."""

    use_thread = True

    def __init__(self, gate: threading.Event, entered: threading.Event, seen: list[Any]) -> None:
        super().__init__()
        self.gate, self.entered, self.seen = gate, entered, seen

    def on_receive(self, message: Any) -> Any:
        topic = getattr(message, "topic", message)  # an ask("sync") comes as it is
        if topic in ("hold", "die"):
            self.entered.set()
            assert self.gate.wait(5)
            if topic == "die":
                raise RuntimeError("died holding the gate")
            relation, pid = message.payload
            (self.unmonitor if relation == "monitor" else self.unlink)(pid)
        elif topic == "watch":
            self.monitor(message.payload)
        elif topic == "link":
            self.link(message.payload)
        return None

    def on_event(self, event: Any) -> None:
        self.seen.append(event)


def held(probe: Probe, **options: Any) -> tuple[PID, threading.Event, threading.Event, list[Any]]:
    gate, entered, seen = threading.Event(), threading.Event(), []
    return probe.spawn(Held, gate, entered, seen, **options), gate, entered, seen


def queued(node: Node, pid: PID, tag: int) -> bool:
    proc = node.host(pid.host).process(pid)  # type: ignore[union-attr]
    return proc is not None and any(item[0] == tag for item in list(proc._box))


@pytest.mark.parametrize("relation", ["monitor", "link"])
def test_a_request_queued_behind_the_fatal_message_still_gets_the_death(
    node: Node, probe: Probe, relation: str
) -> None:
    """The target is alive when asked, and dies before it reads the request."""
    target, gate, entered, _ = held(probe)
    node.send(target, "die")
    assert entered.wait(5)
    getattr(probe, relation)(target)  # accepted: the target is alive
    assert queued(node, target, Signal.MONITOR if relation == "monitor" else Signal.LINK)
    gate.set()
    event = probe.expect_exit(target) if relation == "monitor" else probe.expect_link_down(target)
    assert event.error is not None and event.error.message() == "RuntimeError: died holding the gate"


@pytest.mark.parametrize("relation", ["monitor", "link"])
def test_an_exit_queued_before_unmonitor_or_unlink_is_dropped(
    node: Node, probe: Probe, relation: str
) -> None:
    """The EXIT (or LINK_DOWN) is already in the actor's mailbox when it drops the relation."""
    watcher, gate, entered, seen = held(probe, monitor=True)
    target = probe.spawn(waits, monitor=True)
    node.send(watcher, "watch" if relation == "monitor" else "link", target)
    assert node.actor_ref(watcher).ask("sync", timeout=5) is None  # the relation is in place

    ref = node.actor_ref(watcher)
    node.send(watcher, "hold", [relation, target])
    assert entered.wait(5)
    node.send(target, "crash")  # a failure: a link would carry it too
    probe.expect_exit(target)
    tag = Signal.EXIT if relation == "monitor" else Signal.LINK_DOWN
    wait_until(lambda: queued(node, watcher, tag), what="the death reaches the watcher's mailbox")
    gate.set()
    assert ref.ask("sync", timeout=5) is None
    assert seen == [] and node.is_alive(watcher)
    node.terminate(watcher)


# -- names, ordering ------------------------------------------------------------------------------------


def test_names_are_released_before_the_exit_is_delivered(node: Node, probe: Probe) -> None:
    pid = probe.spawn(waits, monitor=True)
    node.register("the-one", pid)
    assert node.lookup("the-one") == pid
    probe.send("the-one", "stop")
    probe.expect_exit(pid)
    assert node.whereis("the-one") is None
    replacement = probe.spawn(waits)
    node.register("the-one", replacement)
    assert node.lookup("the-one") == replacement


def test_message_sent_before_exit_arrives_before_the_exit_event(probe: Probe) -> None:
    async def say_goodbye(proc, to):  # type: ignore[no-untyped-def]
        proc.send(to, "bye", "see you")
        return "gone"

    for _ in range(200):
        pid = probe.spawn(say_goodbye, probe.pid, monitor=True)
        first = probe.receive()
        second = probe.receive()
        assert getattr(first, "topic", None) == "bye"
        assert second.kind == "pid.exit" and second.pid == pid


def test_ten_thousand_messages_from_one_sender_arrive_in_order(probe: Probe) -> None:
    async def counter(proc, to, count):  # type: ignore[no-untyped-def]
        for index in range(count):
            proc.send(to, "n", index)
        return count

    async def collector(proc, count, report):  # type: ignore[no-untyped-def]
        numbers = proc.listen("n")
        seen = []
        for _ in range(count):
            value, _ok = await numbers.receive()
            seen.append(value)
        proc.send(report, "seen", seen)

    collector_pid = probe.spawn(collector, 10_000, probe.pid)
    probe.spawn(counter, collector_pid, 10_000)
    seen = probe.expect_message("seen", timeout=10).payload
    assert seen == list(range(10_000))
