"""What crosses between nodes, and when frames leave (no NATS needed).

Every mailbox item a node sends another comes out of the frame as it went
in (encoded payloads still encoded, PIDs as PIDs), a malformed entry is
refused with ``INVALID`` rather than delivered, and the sender batches a
stream of sends into frames without ever holding back a request or a reply.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from actors import PID, Node, codec, errors
from actors.codec import Packed
from actors.signals import Signal
from cluster import Cluster
from cluster._member import INCARNATION_SPAN, Member, incarnation_of
from cluster._wire import PidTexts, decode_frame, encode_frame, entry_item, item_entry

HERE = PID("app:processes", "0x00001", "b")
THERE = PID("app:processes", "0x00007", "a")


def _cross(item: tuple) -> tuple[PID, tuple]:
    """``item`` for ``HERE`` through a frame and back."""
    data = encode_frame("a", 3, [item_entry(HERE, item)])
    node, incarnation, entries = decode_frame(data)
    assert (node, incarnation, len(entries)) == ("a", 3, 1)
    return entry_item(entries[0], PidTexts())


@pytest.mark.parametrize(
    "item",
    [
        (Signal.MSG, THERE, "topic", (1,)),
        (Signal.MSG, None, "topic", (None, 2.5, b"\x00\xff", "ascii", THERE)),
        (Signal.LINK, THERE),
        (Signal.UNLINK, THERE),
        (Signal.LINK_GONE, THERE),
        (Signal.MONITOR, THERE),
        (Signal.DEMONITOR, THERE),
        (Signal.TERMINATE, None),
        (Signal.CANCEL, THERE, "shutting down", 1.5, 1700000000.25),
        (Signal.LINK_DOWN, THERE, None, errors.Error(errors.INTERNAL, "boom", details={"n": 1}), 1.0),
    ],
)
def test_an_item_comes_out_of_a_frame_as_it_went_in(item: tuple) -> None:
    pid, received = _cross(item)
    assert pid == HERE and pid.__class__ is PID
    assert received == item
    if received[1] is not None:
        assert received[1].__class__ is PID


def test_encoded_payloads_and_exit_values_cross_still_encoded() -> None:
    payload = codec.encode({"nested": [1, {"x": "é"}], "pid": THERE})
    assert payload.__class__ is Packed
    _, message = _cross((Signal.MSG, THERE, "data", (payload, 7)))
    assert message[3][0].__class__ is Packed and message[3][1] == 7
    assert codec.decode(message[3][0]) == {"nested": [1, {"x": "é"}], "pid": THERE}
    for tag in (Signal.EXIT, Signal.LINK_EXIT):
        value = codec.encode(["done", 42])
        _, ended = _cross((tag, THERE, value, None, 2.0))
        assert ended[0] == tag and ended[2].__class__ is Packed
        assert codec.decode(ended[2]) == ["done", 42]


@pytest.mark.parametrize(
    "entry",
    [
        [Signal.MSG, "not a pid", None, "t", [1]],
        [Signal.LINK, None, "{a@app:processes|0x00001}"],
        [Signal.LINK, str(HERE), "{broken"],
    ],
)
def test_a_malformed_pid_in_an_entry_is_invalid(entry: list) -> None:
    with pytest.raises(errors.Error) as refused:
        entry_item(entry, PidTexts())
    assert refused.value.kind() == errors.INVALID


def test_pid_texts_parse_each_text_once() -> None:
    pids = PidTexts()
    first = pids.parse(str(HERE))
    assert pids.known[str(HERE)] is first
    _, item = entry_item([Signal.LINK, str(HERE), str(HERE)], pids)
    assert item[1] is first


def test_a_pid_says_which_life_of_its_node_minted_it() -> None:
    first, second = 1, INCARNATION_SPAN + 1  # where incarnations 1 and 2 start counting
    assert incarnation_of(PID("app:processes", f"0x{first:05x}", "b")) == 1
    assert incarnation_of(PID("app:processes", f"0x{second - 1:05x}", "b")) == 1
    assert incarnation_of(PID("app:processes", f"0x{second:05x}", "b")) == 2
    assert incarnation_of(PID("app:processes", "worker-7", "b")) is None  # no counter: unknown
    restarted = Member("b", 2, ())
    assert restarted.outlived(PID("app:processes", "0x00007", "b"))
    assert not restarted.outlived(PID("app:processes", f"0x{second:05x}", "b"))
    assert not restarted.outlived(PID("app:processes", "worker-7", "b"))  # delivered, dropped there
    assert not Member("b", 1, ()).outlived(PID("app:processes", f"0x{second:05x}", "b"))


@pytest.fixture
def sender(tmp_path: Path) -> Iterator[Cluster]:
    """A cluster object that never joins: its sender's pacing, on its own."""
    node = Node(workers=1)
    yield Cluster(node, "a", state_dir=tmp_path, frame_linger=0.002)
    node.shutdown(timeout=0.5)


def _flow(cluster: Cluster, member: Member, sizes: list[int], gap: float) -> None:
    for size in sizes:
        member.last_frame = time.monotonic() - gap
        cluster._paced(member, size)


def test_requests_and_replies_never_wait(sender: Cluster) -> None:
    member = Member("b", 1, ())
    assert sender._linger(member) == 0.0  # nothing sent yet
    _flow(sender, member, [1] * 50, gap=0.0005)  # one a round trip: 2,000 a second at most
    assert sender._linger(member) == 0.0


def test_requests_and_replies_never_wait_with_the_default_linger(tmp_path: Path) -> None:
    # 5 ms would gather 10 entries of a 2,000-a-second request/reply loop: still no stream.
    node = Node(workers=1)
    try:
        cluster = Cluster(node, "a", state_dir=tmp_path)
        assert cluster.frame_linger == 0.005
        member = Member("b", 1, ())
        _flow(cluster, member, [1] * 50, gap=0.0005)
        assert cluster._linger(member) == 0.0
        _flow(cluster, member, [1] * 50, gap=0.0002)  # 5,000 a second: a stream, it waits
        assert 0.0 < cluster._linger(member) <= 0.005
    finally:
        node.shutdown(timeout=0.5)


def test_a_stream_sent_one_entry_a_frame_waits_for_company(sender: Cluster) -> None:
    # The loop kept up with the stream so far, one entry a frame: still a stream to batch.
    member = Member("b", 1, ())
    _flow(sender, member, [1] * 50, gap=0.0001)  # 10,000 single-entry frames a second
    assert 0.0 < sender._linger(member) <= sender.frame_linger


def test_a_stream_of_small_sends_waits_for_company_within_the_linger(sender: Cluster) -> None:
    member = Member("b", 1, ())
    _flow(sender, member, [3] * 10, gap=0.0003)  # 10,000 entries a second, 3 a frame
    linger = sender._linger(member)
    assert 0.0 < linger <= sender.frame_linger
    member.last_frame = time.monotonic() - 1.0  # the stream stopped: the next send leaves at once
    assert sender._linger(member) == 0.0


def test_a_stream_that_slows_down_keeps_sharing_frames_until_it_is_a_trickle(tmp_path: Path) -> None:
    # A busy machine slows a stream down; falling back to a frame a send would slow it more.
    node = Node(workers=1)
    try:
        cluster = Cluster(node, "a", state_dir=tmp_path)
        fresh, slowed = Member("b", 1, ()), Member("c", 1, ())
        _flow(cluster, fresh, [3] * 10, gap=0.001)  # 3,000 a second from the start: no stream
        assert cluster._linger(fresh) == 0.0
        _flow(cluster, slowed, [10] * 10, gap=0.001)  # 10,000 a second: a stream
        assert cluster._linger(slowed) > 0.0
        _flow(cluster, slowed, [3] * 10, gap=0.001)  # slowed to 3,000 a second: still one
        assert cluster._linger(slowed) > 0.0
        _flow(cluster, slowed, [1] * 10, gap=0.001)  # 1,000 a second: a trickle now
        assert cluster._linger(slowed) == 0.0
        _flow(cluster, slowed, [3] * 10, gap=0.001)  # and a stream again only at the full rate
        assert cluster._linger(slowed) == 0.0
    finally:
        node.shutdown(timeout=0.5)


def test_a_slow_trickle_does_not_wait(sender: Cluster) -> None:
    member = Member("b", 1, ())
    _flow(sender, member, [2] * 10, gap=0.004)  # 500 entries a second: a linger would gather one
    assert sender._linger(member) == 0.0


def test_no_linger_when_it_is_off(tmp_path: Path) -> None:
    node = Node(workers=1)
    try:
        cluster = Cluster(node, "a", state_dir=tmp_path, frame_linger=0)
        member = Member("b", 1, ())
        _flow(cluster, member, [50] * 10, gap=0.0005)
        assert cluster._linger(member) == 0.0
        with pytest.raises(errors.Error) as bad:
            Cluster(node, "a", state_dir=tmp_path, frame_linger=1.0)
        assert bad.value.kind() == errors.INVALID
    finally:
        node.shutdown(timeout=0.5)
