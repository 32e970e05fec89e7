"""Topics, inbox, events and channels, through Python coroutine processes."""

from __future__ import annotations

from typing import Any

import pytest

from actors import Channel, ChannelClosed, Error, Message, Node, Probe, errors, select
from actors._routing import Router


async def echo_listener(proc: Any, topic: str, message_mode: bool, report: Any, count: int) -> None:
    channel = proc.listen(topic, message=message_mode)
    for _ in range(count):
        value, _ok = await channel.receive()
        if isinstance(value, Message):
            proc.send(report, "got", {"topic": value.topic, "from": value.sender, "data": value.payload})
        else:
            proc.send(report, "got", value)


def test_listen_gives_raw_payloads_by_default(probe: Probe) -> None:
    pid = probe.spawn(echo_listener, "update", False, probe.pid, 3)
    probe.send(pid, "update", {"v": 1})
    probe.send(pid, "update")
    probe.send(pid, "update", 1, 2)
    assert probe.expect_message("got").payload == {"v": 1}
    assert probe.expect_message("got").payload is None
    assert probe.expect_message("got").payload == [1, 2]


def test_listen_with_message_gives_message_objects(probe: Probe) -> None:
    pid = probe.spawn(echo_listener, "request", True, probe.pid, 1)
    probe.send(pid, "request", {"q": "status"})
    got = probe.expect_message("got").payload
    assert got == {"topic": "request", "from": probe.pid, "data": {"q": "status"}}


def test_listen_refuses_reserved_and_empty_topics(node: Node, probe: Probe) -> None:
    async def try_listen(proc: Any, topic: str) -> str:
        try:
            proc.listen(topic)
        except Error as err:
            return err.kind()
        return "accepted"

    assert node.exec(try_listen, "@inbox") == errors.INVALID
    assert node.exec(try_listen, "") == errors.INVALID
    assert node.exec(try_listen, "fine") == "accepted"


def test_unrouted_messages_wait_in_the_mailbox_until_a_listener_appears(probe: Probe) -> None:
    async def late_listener(proc: Any, report: Any) -> None:
        go = proc.listen("go")
        await go.receive()  # "data" messages arrive meanwhile, with no listener and no inbox
        data = proc.listen("data")
        values = []
        for _ in range(3):
            value, _ok = await data.receive()
            values.append(value)
        proc.send(report, "values", values)

    pid = probe.spawn(late_listener, probe.pid)
    for index in range(3):
        probe.send(pid, "data", index)
    probe.send(pid, "go")
    assert probe.expect_message("values").payload == [0, 1, 2]


def test_unrouted_messages_go_to_the_inbox_in_arrival_order(probe: Probe) -> None:
    async def inbox_reader(proc: Any, report: Any) -> None:
        listened = proc.listen("special")
        go, _ = await listened.receive()
        inbox = proc.inbox()
        seen = []
        for _ in range(4):
            message, _ok = await inbox.receive()
            seen.append([message.topic, message.payload])
        leftover, _ = await listened.receive()
        proc.send(report, "seen", {"inbox": seen, "special": [go, leftover]})

    pid = probe.spawn(inbox_reader, probe.pid)
    probe.send(pid, "b", 1)
    probe.send(pid, "a", 2)
    probe.send(pid, "special", "first")
    probe.send(pid, "b", 3)
    probe.send(pid, "special", "second")
    probe.send(pid, "c", 4)
    result = probe.expect_message("seen").payload
    assert result["inbox"] == [["b", 1], ["a", 2], ["b", 3], ["c", 4]]
    assert result["special"] == ["first", "second"]


def test_unlisten_sends_later_messages_to_the_inbox(probe: Probe) -> None:
    async def switcher(proc: Any, report: Any) -> None:
        channel = proc.listen("t")
        first, _ = await channel.receive()
        proc.unlisten(channel)
        drained = [list(await channel.receive()), list(await channel.receive())]
        proc.send(report, "unlistened")
        message, _ = await proc.inbox().receive()
        proc.send(report, "result", [first, drained, message.payload])

    pid = probe.spawn(switcher, probe.pid)
    probe.send(pid, "t", 1)
    probe.send(pid, "t", 2)  # already buffered in the channel when it closes
    probe.expect_message("unlistened")
    probe.send(pid, "t", 3)
    assert probe.expect_message("result").payload == [1, [[2, True], [None, False]], 3]


def test_events_channel_receives_exit_and_cancel(probe: Probe) -> None:
    async def watcher(proc: Any, report: Any) -> None:
        events = proc.events()
        child = proc.spawn(_returns_later, monitor=True)
        proc.send(child, "go")
        seen = {}
        for _ in range(2):
            event, _ = await events.receive()
            seen[event.kind] = event
        exit_event = seen["pid.exit"]
        proc.send(report, "events", [exit_event.pid == child, exit_event.value, seen["pid.cancel"].sender])

    pid = probe.spawn(watcher, probe.pid)
    probe.cancel(pid)
    assert probe.expect_message("events").payload == [True, "bye", probe.pid]


async def _returns_later(proc: Any) -> str:
    await proc.listen("go").receive()
    return "bye"


def test_a_full_listen_channel_keeps_messages_in_order_without_loss(probe: Probe) -> None:
    async def slow_reader(proc: Any, report: Any, count: int) -> None:
        channel = proc.listen("n")
        other = proc.listen("other")
        seen = []
        while len(seen) < count:
            index, value, _ok = await select(channel.case_receive(), other.case_receive())
            if index == 0:
                seen.append(value)
                await proc.pause()
        extra, _ = await other.receive()
        proc.send(report, "seen", {"n": seen, "other": extra})

    pid = probe.spawn(slow_reader, probe.pid, 200)
    for index in range(200):
        probe.send(pid, "n", index)
    probe.send(pid, "other", "o")
    result = probe.expect_message("seen").payload
    assert result["n"] == list(range(200))


def test_select_prefers_the_first_ready_case_and_supports_default(node: Node) -> None:
    async def body(proc: Any) -> list[Any]:
        first = Channel(1)
        second = Channel(1)
        await second.send("b")
        await first.send("a")
        picked = await select(first.case_receive(), second.case_receive())
        again = await select(first.case_receive(), second.case_receive())
        empty = await select(first.case_receive(), default=True)
        sent = await select(first.case_send("x"), default=True)
        return [list(picked), list(again), list(empty), list(sent)]

    assert node.exec(body) == [[0, "a", True], [1, "b", True], [-1, None, True], [0, "x", True]]


def test_unbuffered_channel_is_a_rendezvous_between_coroutines(node: Node) -> None:
    async def body(proc: Any) -> list[Any]:
        channel = Channel()
        log: list[Any] = []

        async def producer() -> None:
            for value in range(3):
                await channel.send(value)
                log.append(f"sent {value}")
            channel.close()

        await proc.go(producer())
        while True:
            value, ok = await channel.receive()
            if not ok:
                break
            log.append(f"got {value}")
        return log

    log = node.exec(body)
    assert [entry for entry in log if entry.startswith("got")] == ["got 0", "got 1", "got 2"]
    # A rendezvous: send k+1 cannot complete before the receiver came back for it.
    for value in range(2):
        assert log.index(f"sent {value + 1}") > log.index(f"got {value}")


def test_closed_channel_drains_then_reports_not_ok_and_refuses_sends(node: Node) -> None:
    async def body(proc: Any) -> list[Any]:
        channel = Channel(2)
        await channel.send(1)
        channel.close()
        channel.close()  # idempotent
        results: list[Any] = [list(await channel.receive()), list(await channel.receive())]
        try:
            await channel.send(2)
        except ChannelClosed as closed:
            results.append(str(closed))
        return results

    assert node.exec(body) == [[1, True], [None, False], "send on closed channel"]


def test_blocked_sender_gets_channel_closed(node: Node) -> None:
    async def body(proc: Any) -> str:
        channel = Channel()
        outcome: list[str] = []

        async def sender() -> None:
            try:
                await channel.send("never taken")
            except ChannelClosed:
                outcome.append("closed")

        await proc.go(sender())
        await proc.pause()
        channel.close()
        await proc.pause()
        return outcome[0]

    assert node.exec(body) == "closed"


def test_an_error_in_any_coroutine_ends_the_process(probe: Probe) -> None:
    async def body(proc: Any) -> None:
        async def crasher() -> None:
            raise Error(errors.CONFLICT, "side task failed")

        await proc.go(crasher())
        await proc.listen("never").receive()

    pid = probe.spawn(body, monitor=True)
    event = probe.expect_exit(pid, error_kind=errors.CONFLICT)
    assert event.error is not None and event.error.message() == "side task failed"


def test_other_coroutines_die_when_main_returns(probe: Probe) -> None:
    async def body(proc: Any) -> str:
        async def forever() -> None:
            await proc.listen("never").receive()

        await proc.go(forever())
        return "main done"

    pid = probe.spawn(body, monitor=True)
    assert probe.expect_exit(pid).value == "main done"


def test_deadlock_is_reported_as_an_error(probe: Probe) -> None:
    async def body(proc: Any) -> None:
        await Channel().receive()

    pid = probe.spawn(body, monitor=True)
    event = probe.expect_exit(pid, error_kind=errors.INTERNAL)
    assert event.error is not None and "deadlock" in event.error.message()


def test_sleep_and_after(node: Node) -> None:
    import time

    async def body(proc: Any) -> list[Any]:
        started = time.monotonic()
        await proc.sleep(0.05)
        slept = time.monotonic() - started
        timeout = proc.after(0.05)
        index, _value, _ok = await select(proc.inbox().case_receive(), timeout.case_receive())
        return [slept >= 0.05, index, list(await timeout.receive())]

    assert node.exec(body, timeout=2) == [True, 1, [None, False]]


def test_router_pending_count_and_close() -> None:
    router = Router()
    router.push_message(Message("a", None, (1,)))
    router.push_message(Message("b", None, (2,)))
    router.flush()
    assert router.pending_count == 2
    inbox = router.inbox()
    router.close()
    assert inbox.closed and router.pending_count == 0


def test_channel_rejects_bad_sizes() -> None:
    with pytest.raises(ValueError):
        Channel(-1)
