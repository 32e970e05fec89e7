"""PIDs, the msgpack codec and error values."""

from __future__ import annotations

import pickle

import msgpack
import pytest

from actors import PID, Error, Node, Probe, codec, errors


@pytest.mark.parametrize(
    "text",
    [
        "{app:processes|0x00001}",
        "{node1@app:processes|0x0abcd}",
        "{app:temporal_client@app:worker|order-123}",
        "{|}",
        "{|topology}",
    ],
)
def test_pid_text_round_trips(text: str) -> None:
    pid = PID.parse(text)
    assert str(pid) == text
    assert PID.parse(str(pid)) == pid


def test_pid_fields_and_default_node() -> None:
    pid = PID.parse("{app:temporal_client@app:worker|order-123}")
    assert (pid.node, pid.host, pid.uniq) == ("app:temporal_client", "app:worker", "order-123")
    assert PID("app:processes", "0x00001", node="local") == PID.parse("{app:processes|0x00001}")
    assert str(PID("app:processes", "0x00001", node="local")) == "{app:processes|0x00001}"
    assert PID.parse("{app:processes|0x00001}").is_local


def test_pid_legacy_three_part_form_keeps_last_part() -> None:
    assert PID.parse("{app:processes|x|0x00007}").uniq == "0x00007"


@pytest.mark.parametrize("bad", ["app:processes|0x1", "{app:processes}", "", "{", "nope", "{a|b"])
def test_malformed_pid_is_invalid_and_quotes_the_text(bad: str) -> None:
    with pytest.raises(Error) as info:
        PID.parse(bad)
    assert info.value.kind() == errors.INVALID
    assert repr(bad) in info.value.message()


def test_pid_is_hashable_comparable_immutable_and_picklable() -> None:
    first = PID("app:processes", "0x00002")
    second = PID("app:processes", "0x0000a")
    third = PID("app:processes", "0x100000")
    assert {first, PID.parse(str(first))} == {first}
    assert sorted([third, second, first]) == [first, second, third]
    with pytest.raises(AttributeError):
        first.uniq = "x"  # type: ignore[misc]
    assert pickle.loads(pickle.dumps(first)) == first


def test_pid_and_error_are_msgpack_ext_types() -> None:
    pid = PID.parse("{app:processes|0x00003}")
    err = Error(errors.NOT_FOUND, "missing", retryable=False, details={"pid": pid})
    data = codec.dumps({"who": pid, "why": err, "many": [pid, (1, 2)]})
    raw = msgpack.unpackb(data, raw=False)
    assert isinstance(raw["who"], msgpack.ExtType) and raw["who"].code == codec.PID_EXT
    back = codec.loads(data)
    assert back["who"] == pid
    assert back["why"] == err and back["why"].details()["pid"] == pid
    assert back["many"] == [pid, [1, 2]]


def test_codec_copies_so_the_receiver_shares_nothing(node: Node) -> None:
    with Probe(node) as receiver:
        payload = {"items": [1, 2, 3]}
        node.send(receiver.pid, "data", payload)
        payload["items"].append(4)  # the sender mutates after sending
        received = receiver.expect_message("data").payload
        assert received == {"items": [1, 2, 3]}
        assert received is not payload


def test_unencodable_payload_is_refused_and_nothing_is_delivered(node: Node) -> None:
    with Probe(node) as receiver:
        with pytest.raises(Error) as info:
            node.send(receiver.pid, "data", {"fine": 1}, {"bad": object()})
        assert info.value.kind() == errors.INVALID
        with pytest.raises(Error):
            node.send(receiver.pid, "data", {1, 2})
        with pytest.raises(Error):
            node.send(receiver.pid, "data", 2**70)
        receiver.expect_nothing(within=0.1)


def test_tuple_keys_arrive_as_tuple_keys(node: Node) -> None:
    """msgpack packs a tuple key as an array; the receiver must not crash on a list key."""
    with Probe(node) as receiver:
        node.send(receiver.pid, "data", {(1, 2): "pair", ("a", (3, 4)): "nested", "plain": [1, 2]})
        assert receiver.expect_message("data").payload == {
            (1, 2): "pair",
            ("a", (3, 4)): "nested",
            "plain": [1, 2],
        }


def test_error_accessors_and_helpers() -> None:
    err = Error(errors.TIMEOUT, "too slow", retryable=True, details={"after": 5})
    assert (err.kind(), err.message(), err.retryable(), err.details()) == (
        "TIMEOUT",
        "too slow",
        True,
        {"after": 5},
    )
    assert errors.TIMEOUT == "TIMEOUT" and errors.NOT_FOUND == "NOT_FOUND"
    wrapped = errors.wrap(err, "calling the API")
    assert wrapped.kind() == errors.TIMEOUT and wrapped.message() == "too slow"
    assert str(wrapped) == "calling the API: too slow"
    assert errors.is_kind(wrapped, errors.TIMEOUT) and not errors.is_kind("x", errors.TIMEOUT)
    internal = errors.from_exception(ValueError("bad value"))
    assert internal.kind() == errors.INTERNAL and internal.message() == "ValueError: bad value"
    assert pickle.loads(pickle.dumps(err)) == err
    with pytest.raises(Error):
        raise err
