"""Python actors: pykka's API keeps working, and the process core comes with it."""

from __future__ import annotations

import threading
from typing import Any

import pykka
import pytest

from actors import Actor, Cancel, Error, Exit, LinkDown, Message, Node, Probe, errors

from .helpers import fails, waits


class Counter(Actor):
    def __init__(self, start: int = 0) -> None:
        super().__init__()
        self.count = start
        self.log: list[str] = []

    def on_start(self) -> None:
        self.log.append("start")

    def increment(self, by: int = 1) -> int:
        self.count += by
        return self.count

    def on_receive(self, message: Any) -> Any:
        if message == "boom":
            raise ValueError("asked to fail")
        if isinstance(message, Message):
            self.count += message.payload
            return None
        return ("echo", message)


def test_tell_ask_and_proxy_work_as_in_pykka(node: Node) -> None:
    ref = node.start(Counter, 10)
    assert isinstance(ref, pykka.ActorRef)
    assert ref.ask("hello") == ("echo", "hello")
    ref.tell("fire and forget")
    proxy = ref.proxy()
    assert proxy.increment(5).get(timeout=1) == 15
    assert proxy.count.get(timeout=1) == 15
    assert proxy.log.get(timeout=1) == ["start"]
    assert ref.is_alive()
    assert ref.stop() is True
    assert not ref.is_alive()


class Recorder(Actor):
    """Records each message and the thread that handled it."""

    def __init__(self, seen: list[tuple[Any, str]]) -> None:
        super().__init__()
        self.seen = seen

    def on_receive(self, message: Any) -> Any:
        self.seen.append((message, threading.current_thread().name))
        return len(self.seen)


class ThreadedRecorder(Recorder):
    use_thread = True


def test_an_ask_from_a_plain_thread_keeps_order_and_may_run_on_the_caller(node: Node) -> None:
    """The caller of ask() blocks anyway: when no worker has the actor's turn yet, it runs it
    itself (no thread wake-ups). Messages are still handled one at a time, in order."""
    seen: list[tuple[Any, str]] = []
    ref = node.start(Recorder, seen)
    ref.ask("warm up")  # started and idle
    ref.tell("told first")
    assert ref.ask("asked") == 3
    assert [message for message, _ in seen] == ["warm up", "told first", "asked"]
    caller = threading.current_thread().name
    for _ in range(20):  # the idle actor's turn is the caller's unless a worker beat it to it
        ref.ask("again")
    assert any(thread == caller for message, thread in seen if message == "again")
    threaded: list[tuple[Any, str]] = []
    own = node.start(ThreadedRecorder, threaded)
    assert own.ask("x") == 1 and threaded[0][1] != caller  # an actor with its own thread keeps it
    for actor in (ref, own):
        actor.stop()


def test_ask_with_a_timeout_still_times_out(node: Node) -> None:
    gate = threading.Event()

    class Slow(Actor):
        def on_receive(self, message: Any) -> Any:
            gate.wait(5)
            return "late"

    ref = node.start(Slow)
    with pytest.raises(pykka.Timeout):
        ref.ask("x", timeout=0.2)
    gate.set()
    assert ref.ask("y", timeout=5) == "late"
    ref.stop()


def test_ask_exception_is_returned_and_actor_keeps_running(node: Node) -> None:
    ref = node.start(Counter)
    with pytest.raises(ValueError, match="asked to fail"):
        ref.ask("boom")
    assert ref.ask("still here") == ("echo", "still here")


def test_tell_exception_crashes_the_actor_with_an_internal_error(node: Node, probe: Probe) -> None:
    pid = probe.spawn(Counter, monitor=True)
    node.actor_ref(pid).tell("boom")
    event = probe.expect_exit(pid, error_kind=errors.INTERNAL)
    assert event.error is not None and "asked to fail" in event.error.message()


def test_stop_is_a_normal_exit_and_asks_after_stop_fail(node: Node, probe: Probe) -> None:
    pid = probe.spawn(Counter, monitor=True, link=True)
    ref = node.actor_ref(pid)
    ref.stop()
    event = probe.expect_exit(pid)
    assert event.error is None
    probe.expect_nothing(within=0.1)  # normal exit: no LINK_DOWN
    with pytest.raises(pykka.ActorDeadError):
        ref.ask("anyone?")
    with pytest.raises(pykka.ActorDeadError):
        ref.tell("anyone?")


def test_pending_asks_fail_when_the_actor_dies(node: Node) -> None:
    gate = threading.Event()

    class Slow(Actor):
        def on_receive(self, message: Any) -> Any:
            if message == "block":
                gate.wait(2)
                raise RuntimeError("dying")
            return "late"

    ref = node.start(Slow)
    ref.tell("block")
    pending = ref.ask("after", block=False)
    gate.set()
    with pytest.raises(pykka.ActorDeadError):
        pending.get(timeout=2)


def test_messages_from_send_reach_on_receive_as_message_objects(node: Node, probe: Probe) -> None:
    ref = node.start(Counter, 1)
    probe.send(ref.pid, "add", 41)
    assert ref.proxy().count.get(timeout=1) == 42


def test_actor_has_a_pid_and_the_ref_knows_it(node: Node) -> None:
    ref = node.start(Counter)
    assert ref.pid == ref.proxy().pid.get(timeout=1)
    assert str(ref.pid).startswith("{app:processes|0x")


def test_actor_must_be_started_by_a_node() -> None:
    with pytest.raises(Error) as info:
        Counter()
    assert info.value.kind() == errors.INVALID


def test_start_classmethod_uses_the_default_node() -> None:
    ref = Counter.start(3)
    try:
        assert ref.proxy().increment().get(timeout=1) == 4
        assert ref in pykka.ActorRegistry.get_all()
    finally:
        ref.stop()
    assert ref not in pykka.ActorRegistry.get_all()


class Supervisorish(Actor):
    """Spawns a linked child and reports what happens, typed events and all."""

    def __init__(self, report: Any, trap: bool) -> None:
        super().__init__()
        self.report = report
        self.trap = trap

    def on_start(self) -> None:
        self.trap_links = self.trap
        self.child = self.spawn(waits, link=True, monitor=True)
        self.send(self.report, "child", self.child)

    def on_event(self, event: Exit | LinkDown | Cancel) -> None:
        self.send(self.report, type(event).__name__, event.error.message() if event.error else None)


def test_trap_links_in_an_actor_turns_link_down_into_an_event(node: Node, probe: Probe) -> None:
    parent = probe.spawn(Supervisorish, probe.pid, True, monitor=True)
    child = probe.expect_message("child").payload
    node.send(child, "crash", "child failed")
    assert probe.expect_message("Exit").payload == "child failed"
    assert probe.expect_message("LinkDown").payload == "child failed"
    assert node.is_alive(parent)


def test_without_trap_links_the_actor_dies_with_its_linked_child(node: Node, probe: Probe) -> None:
    parent = probe.spawn(Supervisorish, probe.pid, False, monitor=True)
    child = probe.expect_message("child").payload
    node.send(child, "crash", "child failed")
    assert probe.expect_message("Exit").payload == "child failed"  # EXIT first, then death
    event = probe.expect_exit(parent)
    assert event.error is not None and event.error.message() == "linked process failed"


def test_killed_actor_gets_on_failure_and_not_on_stop(node: Node, probe: Probe) -> None:
    calls: list[str] = []

    class Careful(Actor):
        def on_stop(self) -> None:
            calls.append("on_stop")

        def on_failure(self, exc_type: Any, exc_value: Any, tb: Any) -> None:
            calls.append(f"on_failure:{exc_value.message()}")

    pid = probe.spawn(Careful, monitor=True)
    probe.terminate(pid)
    probe.expect_exit(pid)
    assert calls == ["on_failure:process terminated"]


def test_cancel_stops_an_actor_gracefully_by_default(node: Node, probe: Probe) -> None:
    calls: list[str] = []

    class Polite(Actor):
        def on_stop(self) -> None:
            calls.append("on_stop")

    pid = probe.spawn(Polite, monitor=True)
    probe.cancel(pid, deadline=5)
    event = probe.expect_exit(pid)
    assert event.error is None
    assert calls == ["on_stop"]


def test_exit_with_an_error_from_actor_code(node: Node, probe: Probe) -> None:
    class Quitter(Actor):
        def on_receive(self, message: Any) -> None:
            self.exit(error=Error(errors.CONFLICT, "cannot go on"))

    pid = probe.spawn(Quitter, monitor=True)
    probe.send(pid, "go")
    probe.expect_exit(pid, error_kind=errors.CONFLICT)


def test_on_start_failure_is_an_abnormal_exit(node: Node, probe: Probe) -> None:
    class Broken(Actor):
        def on_start(self) -> None:
            raise RuntimeError("cannot start")

    pid = probe.spawn(Broken, monitor=True)
    event = probe.expect_exit(pid, error_kind=errors.INTERNAL)
    assert event.error is not None and "cannot start" in event.error.message()


def test_actor_monitor_from_inside(node: Node, probe: Probe) -> None:
    class Watcher(Actor):
        def __init__(self, target: Any, report: Any) -> None:
            super().__init__()
            self.target = target
            self.report = report

        def on_start(self) -> None:
            self.monitor(self.target)
            self.send(self.report, "watching")

        def on_event(self, event: Any) -> None:
            self.send(self.report, "saw", {"kind": event.kind, "pid": event.pid})

    live = probe.spawn(waits)
    probe.spawn(Watcher, live, probe.pid)
    probe.expect_message("watching")
    node.send(live, "stop")
    assert probe.expect_message("saw").payload == {"kind": "pid.exit", "pid": live}


def test_actor_monitoring_a_dead_pid_fails_in_its_own_code(node: Node, probe: Probe) -> None:
    class Watcher(Actor):
        def __init__(self, target: Any) -> None:
            super().__init__()
            self.target = target

        def on_start(self) -> None:
            self.monitor(self.target)

    dead = probe.spawn(fails, "gone", monitor=True)
    probe.expect_exit(dead)
    watcher = probe.spawn(Watcher, dead, monitor=True)
    event = probe.expect_exit(watcher, error_kind=errors.NOT_FOUND)
    assert event.error is not None and str(dead) in event.error.message()
