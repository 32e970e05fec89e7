"""Fuzzing the PID parser and the msgpack codec with hypothesis.

Every input either works (and round-trips) or is refused with a typed
``INVALID`` error: never another exception, a crash or a hang.  Bounded for
``make test``; see ``tests/fuzz_support.py`` for the long mode.
"""

from __future__ import annotations

import math
from typing import Any

import msgpack
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from actors import codec, errors
from actors.errors import Error
from actors.pid import MAX_PID_LENGTH, PID, is_pid_text

from .fuzz_support import fuzz

# -- PIDs ------------------------------------------------------------------------------------------

PID_PIECES = st.sampled_from(
    ["{", "}", "|", "@", ":", "local", "app:processes", "0x0001", "", ".", "\n", "\ud800"]
)
PID_LIKE = st.lists(st.one_of(PID_PIECES, st.text(max_size=8)), max_size=12).map("".join)
PID_TEXTS = st.one_of(
    st.text(),
    PID_LIKE,
    PID_LIKE.map(lambda body: "{" + body + "}"),
    st.tuples(st.text(max_size=12), st.text(max_size=12), st.text(max_size=12)).map(
        lambda parts: "{%s@%s|%s}" % parts  # noqa: UP031 - the PID syntax itself
    ),
)


def refused(call: Any, *args: Any) -> Error | None:
    """The ``INVALID`` error ``call(*args)`` raises, or None when it returns; any other exception fails."""
    try:
        call(*args)
    except Error as err:
        assert err.kind() == errors.INVALID, err
        return err
    return None


@fuzz(600)
@given(PID_TEXTS)
@example("{local@x@y|u}")  # was parsed, then printed as a PID of node x
@example("{" + "a" * MAX_PID_LENGTH + "|1}")
@example("{app:processes|0x1|0x2}")
def test_pid_text_parses_to_a_pid_that_round_trips_or_is_invalid(text: str) -> None:
    try:
        pid = PID.parse(text)
    except Error as err:
        assert err.kind() == errors.INVALID
        return
    again = PID.parse(str(pid))
    assert again == pid
    assert (again.node, again.host, again.uniq) == (pid.node, pid.host, pid.uniq)
    assert str(again) == str(pid)
    assert len(str(pid)) <= MAX_PID_LENGTH


WORKFLOW_IDS = st.one_of(
    st.text(min_size=1, max_size=1000),
    st.lists(
        st.sampled_from(["{", "}", "|", "%", "%7C", "%7c", "%25", "@", "0x00001", "a", "é"]), max_size=12
    ).map("".join),
)


@fuzz(600)
@given(WORKFLOW_IDS, st.sampled_from(["", "app:temporal_client", "node1"]))
@example("counter-{app:processes|0x00001}", "app:temporal_client")  # was parsed as workflow "0x00001}"
@example("a|b|c", "app:temporal_client")  # was read as the legacy three-part form
@example("50%", "")
@example("%7C", "app:temporal_client")  # literal text that looks like an escape
@example("}", "")
def test_every_workflow_id_round_trips_through_its_pid_text(uniq: str, node: str) -> None:
    """Issue 13: any ID Temporal accepts, '|', '{', '}' and '%' included, survives its PID's text."""
    pid = PID("app:worker", uniq, node)
    text = str(pid)
    assert is_pid_text(text)
    again = PID.parse(text)
    assert (again.node, again.host, again.uniq) == (pid.node, "app:worker", uniq)
    assert again == pid and str(again) == text
    assert codec.decode(codec.encode(pid)) == pid
    assert len(text) <= MAX_PID_LENGTH


def test_local_pids_and_plain_workflow_ids_print_unescaped() -> None:
    assert str(PID("app:processes", "0x00001")) == "{app:processes|0x00001}"
    assert str(PID("app:worker", "order-123", "app:temporal_client")) == (
        "{app:temporal_client@app:worker|order-123}"
    )
    assert str(PID("app:worker", "counter-{app:processes|0x00001}", "app:temporal_client")) == (
        "{app:temporal_client@app:worker|counter-%7Bapp:processes%7C0x00001%7D}"
    )
    assert PID.parse("{app:p|50%}").uniq == "50%"  # a '%' that escapes nothing is kept
    assert PID.parse("{app:p|x|y}").uniq == "y"  # the legacy three-part form


@fuzz(100)
@given(st.one_of(st.none(), st.integers(), st.floats(), st.binary(), st.lists(st.text()), st.booleans()))
def test_a_pid_of_another_type_is_invalid(value: Any) -> None:
    assert refused(PID.parse, value) is not None


# -- codec: values -----------------------------------------------------------------------------------

SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),  # beyond 64 bits too: INVALID
    st.floats(allow_nan=False),
    st.text(),  # lone surrogates too: INVALID
    st.binary(),
    st.builds(  # PIDs as a host makes them: no '|' or '@' in the host; any ID (workflow IDs)
        PID,
        st.text(max_size=10).filter(lambda host: "|" not in host and "@" not in host),
        st.text(max_size=10),
        st.sampled_from(["", "node1", "app:temporal_client"]),
    ),
    st.builds(
        Error,
        st.sampled_from([errors.INVALID, errors.NOT_FOUND, errors.INTERNAL]),
        st.text(max_size=20),
        retryable=st.one_of(st.none(), st.booleans()),
    ),
)
VALUES = st.recursive(
    SCALARS,
    lambda children: st.one_of(
        st.lists(children, max_size=5),
        st.tuples(children, children),
        st.dictionaries(st.one_of(st.text(max_size=8), st.integers()), children, max_size=5),
    ),
    max_leaves=30,
)


def plain(value: Any) -> Any:
    """What a receiver sees: tuples arrive as lists."""
    if isinstance(value, (list, tuple)):
        return [plain(item) for item in value]
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    return value


def same(a: Any, b: Any) -> bool:
    if isinstance(a, Error) and isinstance(b, Error):
        return (a.kind(), a.message(), a.retryable(), a.details()) == (
            b.kind(),
            b.message(),
            b.retryable(),
            b.details(),
        )
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[key], b[key]) for key in a)
    if isinstance(a, float) and isinstance(b, float):
        return a == b or (math.isnan(a) and math.isnan(b))
    return type(a) is type(b) and a == b


@fuzz(300)
@given(VALUES)
@example(2**64)
@example(-(2**63) - 1)
@example("\udcff")
@example({"\ud800": 1})
@example(Error(errors.INVALID, "lone \udfff"))
def test_a_value_crosses_the_boundary_intact_or_is_invalid(value: Any) -> None:
    try:
        packed = codec.encode(value)
    except Error as err:
        assert err.kind() == errors.INVALID
        return
    assert same(codec.decode(packed), plain(value))


def nested(depth: int) -> Any:
    value: Any = "bottom"
    for _ in range(depth):
        value = [value]
    return value


def test_nesting_up_to_the_limit_round_trips_and_deeper_is_invalid_both_ways() -> None:
    decoded = codec.loads(codec.dumps(nested(codec.MAX_NESTING)))
    for _ in range(codec.MAX_NESTING):  # (== would recurse past Python's own limit)
        assert isinstance(decoded, list) and len(decoded) == 1
        decoded = decoded[0]
    assert decoded == "bottom"
    assert refused(codec.dumps, nested(codec.MAX_NESTING + 1)) is not None
    for depth in (codec.MAX_NESTING + 1, 100_000):
        hostile = b"\x91" * depth + b"\xc0"  # `depth` nested one-element arrays around nil
        assert refused(codec.loads, hostile) is not None


def test_errors_nested_in_error_details_past_the_stack_are_invalid() -> None:
    data = msgpack.packb(None)
    for _ in range(3000):  # each level is decoded by a nested call: the C stack overflowed
        data = msgpack.packb(
            msgpack.ExtType(codec.ERROR_EXT, msgpack.packb(["INVALID", "m", None, {"e": 0}])[:-1] + data)
        )
    assert refused(codec.loads, data) is not None


def test_an_error_whose_kind_is_not_text_is_not_encoded() -> None:
    assert refused(codec.dumps, Error(1, 2)) is not None  # type: ignore[arg-type]


# -- codec: hostile bytes ----------------------------------------------------------------------------


@fuzz(600)
@given(st.binary(max_size=200))
@example(b"\xc7\x03\x01\xff\xfe\xfd")  # a PID extension that is not UTF-8
@example(b"\xd4\x02\x00")  # an Error extension holding 0
@example(b"\x81\x90\x01")  # a map whose key is a list
@example(b"\x81\x81\x01\x02\x03")  # a map whose key is a map
@example(b"\xdd\xff\xff\xff\xff")  # an array announcing 4 billion items
def test_arbitrary_bytes_decode_or_are_invalid(data: bytes) -> None:
    refused(codec.loads, data)


@fuzz(200)
@given(VALUES, st.data())
def test_truncated_data_is_invalid(value: Any, data: st.DataObject) -> None:
    try:
        packed = codec.dumps(value)
    except Error:
        return
    cut = data.draw(st.integers(min_value=0, max_value=len(packed) - 1))
    assert refused(codec.loads, packed[:cut]) is not None


EXT_PAYLOADS = st.one_of(
    st.binary(max_size=40),
    VALUES.map(lambda value: msgpack.packb(plain_for_msgpack(value), use_bin_type=True)),
    st.lists(st.one_of(st.none(), st.integers(-3, 3), st.text(max_size=5), st.booleans()), max_size=5).map(
        lambda items: msgpack.packb(items, use_bin_type=True)
    ),
)


def plain_for_msgpack(value: Any) -> Any:
    """``value`` with what raw msgpack cannot pack replaced by text."""
    if isinstance(value, (list, tuple)):
        return [plain_for_msgpack(item) for item in value]
    if isinstance(value, dict):
        return {str(key): plain_for_msgpack(item) for key, item in value.items()}
    if isinstance(value, (PID, Error)) or (isinstance(value, int) and not -(2**63) <= value < 2**64):
        return repr(value)
    if isinstance(value, str):
        return value.encode("utf-8", "replace").decode()
    return value


@fuzz(300)
@given(st.integers(min_value=-128, max_value=127), EXT_PAYLOADS, st.booleans())
@example(codec.PID_EXT, b"{app:p|1}", False)
@example(codec.ERROR_EXT, msgpack.packb([1, 2, 3, 4]), False)
@example(codec.ERROR_EXT, msgpack.packb(["INVALID", "m", "yes", []]), True)
@example(codec.ERROR_EXT, msgpack.packb(["INVALID"]), False)
@example(42, b"", False)
@example(-1, b"\x00\x00\x00\x01", False)  # msgpack's timestamp type
@example(-1, b"\x07", False)  # a timestamp of a wrong size
def test_hostile_extension_types_decode_to_typed_values_or_are_invalid(
    code: int, payload: bytes, as_key: bool
) -> None:
    ext = b"\xc8" + len(payload).to_bytes(2, "big") + code.to_bytes(1, "big", signed=True) + payload  # ext 16
    data = (b"\x81" + ext + b"\x01") if as_key else (b"\x91" + ext)
    try:
        decoded = codec.loads(data)
    except Error as err:
        assert err.kind() == errors.INVALID
        return
    [value] = list(decoded) if as_key else decoded
    if code == -1:  # msgpack's timestamp: decoded as float seconds, a plain value
        assert isinstance(value, float)
    elif code == codec.PID_EXT:
        assert isinstance(value, PID)
    elif code == codec.ERROR_EXT:
        assert isinstance(value, Error)
        assert isinstance(value.kind(), str) and isinstance(value.message(), str)
        assert value.retryable() in (None, True, False)
        assert value.details() is None or isinstance(value.details(), dict)
    else:
        pytest.fail(f"extension type {code} decoded to {value!r}")


def test_errors_nested_up_to_the_limit_round_trip_and_deeper_are_invalid() -> None:
    def chain(levels: int) -> Error:
        error = Error(errors.INVALID, "root")
        for level in range(levels - 1):
            error = Error(errors.INVALID, f"level {level}", details={"cause": error})
        return error

    deepest = chain(codec.MAX_ERROR_NESTING)
    assert codec.loads(codec.dumps(deepest)) == deepest
    assert refused(codec.dumps, chain(codec.MAX_ERROR_NESTING + 1)) is not None
    assert refused(codec.dumps, chain(5000)) is not None  # was a RecursionError
