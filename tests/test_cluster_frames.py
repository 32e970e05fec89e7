"""A frame from another node goes into this node's mailboxes as one batch (two nodes in this process).

Whatever a frame carries for several processes arrives complete and, for
each sender and receiver, in the order it was sent; a receiver whose mailbox
is full loses only its own messages, never those of the rest of the frame;
and the host threads the frame makes runnable are woken once, when the
frame is in (``actors.host.deferred_wakes``), not at their first message.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from actorflow.pytest_plugin import wait_until
from actors import PID, Node, Probe, ProcessHost, codec
from actors.host import _RunQueue, deferred_wakes
from actors.limits import MESSAGE_OVERHEAD, Limits
from actors.signals import Signal
from cluster import Cluster
from cluster._wire import encode_frame, item_entry

from .cluster_support import node_pair


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[tuple[Node, Node, Cluster, Cluster]]:
    with node_pair(tmp_path / "nats") as (first, second, one, two):
        wait_until(lambda: one.member_names() == two.member_names() == ["one", "two"], what="both nodes up")
        yield first, second, one, two


async def collector(proc: Any, expected: int, observer: PID) -> None:
    """Take ``expected`` messages, then send the observer what came, as ``[sender, number]`` pairs."""
    numbers = proc.listen("n", message=True)
    got = []
    for _ in range(expected):
        message, _ = await numbers.receive()
        got.append([str(message.sender), message.payload])
    proc.send(observer, "got", got)


async def streamer(proc: Any, targets: list[str], count: int) -> None:
    """Send ``0 .. count-1`` to every target, round robin, without waiting in between."""
    for number in range(count):
        for target in targets:
            proc.send(target, "n", number)


def test_a_frames_messages_to_several_receivers_arrive_complete_and_in_order_per_pair(
    pair: tuple[Node, Node, Cluster, Cluster],
) -> None:
    first, second, _one, two = pair
    senders, receivers, count = 3, 4, 400
    with Probe(second) as observer:
        targets = [second.spawn(collector, senders * count, observer.pid) for _ in range(receivers)]
        before = two.traffic()
        sources = [str(first.spawn(streamer, [str(t) for t in targets], count)) for _ in range(senders)]
        reports = {}
        for _ in range(receivers):
            message = observer.expect_message("got", timeout=30)
            reports[message.sender] = message.payload
        after = two.traffic()
    assert set(reports) == set(targets)
    for target, got in reports.items():
        for source in sources:
            assert [n for s, n in got if s == source] == list(range(count)), (target, source)
        assert len(got) == senders * count
    entries = after["entries_in"] - before["entries_in"]
    frames = after["frames_in"] - before["frames_in"]
    assert entries >= senders * receivers * count
    assert frames < entries / 4  # frames carried batches: the path under test
    assert after["dropped_in"] == 0


def test_a_full_mailbox_loses_only_its_own_messages_not_the_rest_of_the_frame(
    pair: tuple[Node, Node, Cluster, Cluster],
) -> None:
    first, second, one, two = pair
    room = 5  # messages the small mailbox takes
    size = MESSAGE_OVERHEAD + 8  # one number
    second.add_host(ProcessHost(second, "small", workers=1, limits=Limits(max_mailbox_bytes=room * size)))
    with Probe(first) as sender, Probe(second, host="small") as full, Probe(second) as fine:
        # One frame, as node one would send it: the two receivers' messages interleaved.
        entries = []
        for number in range(20):
            for target in (full.pid, fine.pid):
                entries.append(item_entry(target, (Signal.MSG, sender.pid, "n", (codec.encode(number),))))
        frame = encode_frame("one", one.incarnation, entries)
        one.run(one.nc.publish(f"{one.prefix}.n.two", frame))
        numbers = [fine.expect_message("n", timeout=10).payload for _ in range(20)]
        assert numbers == list(range(20))
        wait_until(lambda: two.traffic()["dropped_in"] == 20 - room, what="the overflow counted")
        kept = [full.expect_message("n").payload for _ in range(room)]
        assert kept == list(range(room))
        with pytest.raises(AssertionError):
            full.expect_message("n", timeout=0.2)


def test_deliveries_inside_deferred_wakes_wake_an_idle_thread_once_at_the_end() -> None:
    queue = _RunQueue()
    waiter = threading.Lock()
    waiter.acquire()
    taken: list[Any] = []
    worker = threading.Thread(target=lambda: taken.append(queue.get(waiter)), daemon=True)
    worker.start()
    wait_until(lambda: queue._idle == [waiter], what="the worker idle")
    with deferred_wakes():
        queue.put("first")
        with deferred_wakes():  # nested: still held
            queue.put("second")
        assert waiter.locked() and queue._idle == [waiter]  # nobody woken inside the block
        assert queue.waiting()
    worker.join(5)
    assert taken == ["first"]  # woken once: it took one item and left
    queue._items.clear()
    # Outside a block a put wakes an idle thread at once, as before.
    worker = threading.Thread(target=lambda: taken.append(queue.get(waiter)), daemon=True)
    worker.start()
    wait_until(lambda: queue._idle == [waiter], what="the worker idle again")
    queue.put("third")
    worker.join(5)
    assert taken == ["first", "third"]
