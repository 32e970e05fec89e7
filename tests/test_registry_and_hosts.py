"""The name registry, routing by name, and how hosts run processes."""

from __future__ import annotations

import threading
import time
from typing import ClassVar

import pytest

from actorflow.pytest_plugin import wait_until
from actors import PID, Actor, Error, Node, Probe, ProcessHost, errors

from .helpers import returns, waits


def test_register_lookup_unregister(node: Node, probe: Probe) -> None:
    pid = probe.spawn(waits)
    assert node.register("svc", pid) is True
    assert node.register("svc", pid) is True  # same name, same PID: idempotent
    assert node.lookup("svc") == pid
    other = probe.spawn(waits)
    with pytest.raises(Error) as info:
        node.register("svc", other)
    assert info.value.kind() == errors.ALREADY_EXISTS
    assert node.unregister("svc") is True
    assert node.unregister("svc") is False
    with pytest.raises(Error) as missing:
        node.lookup("svc")
    assert missing.value.kind() == errors.NOT_FOUND


def test_every_pid_argument_accepts_a_name(node: Node, probe: Probe) -> None:
    pid = probe.spawn(waits)
    node.register("target", pid)
    probe.monitor("target")
    probe.link("target")
    probe.send("target", "crash")
    probe.expect_exit(pid)
    probe.expect_link_down(pid)


def test_unknown_name_is_not_found(node: Node) -> None:
    with pytest.raises(Error) as info:
        node.send("nobody", "hello")
    assert info.value.kind() == errors.NOT_FOUND
    assert "could not resolve 'nobody'" in info.value.message()


def test_send_to_dead_pid_is_not_found(node: Node, probe: Probe) -> None:
    pid = probe.spawn(returns, monitor=True)
    probe.expect_exit(pid)
    with pytest.raises(Error) as info:
        node.send(pid, "hello")
    assert info.value.kind() == errors.NOT_FOUND


def test_reserved_topics_are_refused(node: Node, probe: Probe) -> None:
    pid = probe.spawn(waits)
    for topic in ("@inbox", "@pid/events", ""):
        with pytest.raises(Error) as info:
            node.send(pid, topic, 1)
        assert info.value.kind() == errors.INVALID


def test_spawn_with_a_taken_name_returns_the_running_process_and_delivers_messages(
    node: Node, probe: Probe
) -> None:
    async def collect(proc, report):  # type: ignore[no-untyped-def]
        inbox = proc.inbox()
        while True:
            message, _ok = await inbox.receive()
            proc.send(report, "got", message.payload)

    first = node.spawn(collect, probe.pid, name="singleton", messages=[("hello", 1)])
    second = node.spawn(collect, probe.pid, name="singleton", messages=[("hello", 2)])
    assert first == second
    assert probe.expect_message("got").payload == 1
    assert probe.expect_message("got").payload == 2


def test_spawn_by_a_taken_name_still_links_and_monitors_the_caller(node: Node, probe: Probe) -> None:
    """Spawn-or-signal must not drop the monitor or link the caller asked for."""

    async def wait_forever(proc):  # type: ignore[no-untyped-def]
        await proc.inbox().receive()

    first = node.spawn(wait_forever, name="kept")
    with probe.acting():
        again = node.spawn(wait_forever, name="kept", monitor=True, link=True)
    assert again == first
    node.terminate(first)
    assert probe.expect_exit(first, error_kind=errors.INTERNAL).pid == first
    assert probe.expect_link_down(first).pid == first


def test_start_messages_precede_later_messages(node: Node, probe: Probe) -> None:
    async def record(proc, report):  # type: ignore[no-untyped-def]
        inbox = proc.inbox()
        seen = []
        for _ in range(3):
            message, _ok = await inbox.receive()
            seen.append((message.topic, message.sender))
        proc.send(report, "seen", seen)

    pid = probe.spawn(record, probe.pid, messages=[("first", None), ("second", None)])
    probe.send(pid, "third")
    seen = probe.expect_message("seen").payload
    assert seen == [["first", None], ["second", None], ["third", probe.pid]]


def test_unknown_host_and_bad_targets(node: Node) -> None:
    with pytest.raises(Error) as host:
        node.spawn(waits, host="app:nowhere")
    assert host.value.kind() == errors.NOT_FOUND
    with pytest.raises(Error) as target:
        node.spawn(42)
    assert target.value.kind() == errors.INVALID
    with pytest.raises(Error) as entry:
        node.spawn("app:missing")
    assert entry.value.kind() == errors.NOT_FOUND


def test_link_without_a_calling_process_is_invalid(node: Node) -> None:
    with pytest.raises(Error) as info:
        node.spawn(waits, link=True)
    assert info.value.kind() == errors.INVALID


class Idle(Actor):
    started: ClassVar[list[PID]] = []

    def on_start(self) -> None:
        Idle.started.append(self.pid)


def test_processes_share_a_small_worker_pool(node: Node) -> None:
    threads_before = threading.active_count()
    Idle.started.clear()
    pids = [node.spawn(Idle) for _ in range(2000)]
    # Every actor has run: a thread per actor would exist by now.
    wait_until(lambda: len(Idle.started) == 2000, what="the 2000 actors have started")
    assert threading.active_count() <= threads_before + 1  # at most the timer thread
    assert node.process_count() == 2000
    for pid in pids:
        node.terminate(pid)
    deadline = time.monotonic() + 5
    while node.process_count() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert node.process_count() == 0


def test_worker_count_is_configurable_and_validated() -> None:
    with Node(workers=3) as node:
        host = node.host("app:processes")
        assert isinstance(host, ProcessHost) and host.workers == 3
        extra = node.add_host(ProcessHost(node, "app:other", workers=1))
        assert node.exec(returns, 7, host=extra.id) == 7
        with pytest.raises(Error):
            ProcessHost(node, "app:bad", workers=0)


class Blocker(Actor):
    use_thread = True

    def __init__(self, gate: threading.Event) -> None:
        super().__init__()
        self.gate = gate

    def on_receive(self, message: object) -> str:
        self.gate.wait(5)
        return threading.current_thread().name


def test_blocking_actor_gets_its_own_thread_and_does_not_stall_the_pool() -> None:
    with Node(workers=1) as node:
        gate = threading.Event()
        blocker = node.start(Blocker, gate)
        pending = blocker.ask("block", block=False)
        # The only pool worker is still free: a pool process completes meanwhile.
        assert node.exec(returns, "pool ok", timeout=2) == "pool ok"
        gate.set()
        thread_name = pending.get(timeout=2)
        assert thread_name.startswith("actor-")
        assert not thread_name.startswith("app:processes-worker")


def test_node_shutdown_cancels_then_terminates() -> None:
    node = Node(workers=2)
    try:
        pid = node.spawn(waits)
        assert node.is_alive(pid)
    finally:
        started = time.monotonic()
        node.shutdown(timeout=0.2)
    assert time.monotonic() - started < 2
    assert node.process_count() == 0
