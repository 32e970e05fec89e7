"""The msgpack codec every payload crosses a process boundary with.

Encoding at ``send`` time does three jobs at once: it refuses what cannot
cross a boundary (``INVALID`` before anything is delivered), it snapshots the
value so a sender mutating it afterwards changes nothing, and it guarantees a
receiver never shares a mutable object with its sender (each receiver decodes
its own copy), as in Erlang.

Immutable scalars (``None``, ``bool``, 64-bit ``int``, ``float``, ASCII
``str``, ``bytes``) need no copy and skip msgpack entirely; everything else is
packed into a :class:`Packed` blob.  PIDs and :class:`~actors.errors.Error`
values have msgpack extension types, so they survive the trip (and the trip
through Temporal, which uses the same codec).

Decoding reads bytes that may come from anywhere (a Temporal history, a
peer): whatever they hold, :func:`loads` returns plain values, PIDs and
well-typed errors, or raises ``INVALID``.  Unknown extension types,
truncated or malformed data, keys Python cannot hash, nesting deeper than
:data:`MAX_NESTING` and errors nested in errors' details deeper than
:data:`MAX_ERROR_NESTING` (each level is a nested decoder call, which
would otherwise overflow the C stack) are refused, both ways.  msgpack's
standard timestamp extension (never produced by :func:`dumps`) decodes as
float Unix seconds.
"""

from __future__ import annotations

import threading
from typing import Any

import msgpack

from actors import errors
from actors.pid import PID

__all__ = [
    "ERROR_EXT",
    "MAX_ERROR_NESTING",
    "MAX_NESTING",
    "PID_EXT",
    "Packed",
    "copy",
    "decode",
    "dumps",
    "encode",
    "loads",
]

PID_EXT = 1
ERROR_EXT = 2

MAX_NESTING = 1024
"""The deepest nesting of lists and maps a payload may have (msgpack's own limit, both ways)."""

MAX_ERROR_NESTING = 32
"""The deepest chain of errors inside errors' details (a cause of a cause …)."""

_INT_MIN = -(2**63)
_INT_MAX = 2**64 - 1


class _Depth(threading.local):
    """How many error values this thread is encoding or decoding, one inside the other."""

    errors = 0


_depth = _Depth()


def _nested_error(action: str) -> Any:
    """A context for one more level of error nesting; ``INVALID`` past :data:`MAX_ERROR_NESTING`."""
    return _ErrorLevel(action)


class _ErrorLevel:
    __slots__ = ("action",)

    def __init__(self, action: str) -> None:
        self.action = action

    def __enter__(self) -> None:
        if _depth.errors >= MAX_ERROR_NESTING:
            raise errors.Error(
                errors.INVALID,
                f"payload cannot be {self.action}: errors nested deeper than {MAX_ERROR_NESTING} levels",
            )
        _depth.errors += 1

    def __exit__(self, *exc: object) -> None:
        _depth.errors -= 1


class Packed:
    """An encoded payload waiting in a mailbox; decoded by its receiver."""

    __slots__ = ("data",)

    def __init__(self, data: bytes) -> None:
        self.data = data

    def __repr__(self) -> str:
        return f"Packed({len(self.data)} bytes)"


def _default(obj: Any) -> Any:
    if isinstance(obj, PID):
        return msgpack.ExtType(PID_EXT, str(obj).encode())
    if isinstance(obj, errors.Error):
        if not isinstance(obj.kind(), str) or not isinstance(obj.message(), str):
            raise TypeError(f"cannot encode an error whose kind and message are not text: {obj!r:.80}")
        with _nested_error("encoded"):
            body = msgpack.packb(
                [obj.kind(), obj.message(), obj.retryable(), obj.details()],
                default=_default,
                use_bin_type=True,
            )
        return msgpack.ExtType(ERROR_EXT, body)
    if isinstance(obj, (tuple, frozenset)):
        return list(obj)
    raise TypeError(f"cannot encode {type(obj).__name__} value {obj!r:.80}")


def _ext_hook(code: int, data: bytes) -> Any:
    if code == PID_EXT:
        return PID.parse(data.decode())
    if code == ERROR_EXT:
        with _nested_error("decoded"):
            body = _unpack(data)
        if not isinstance(body, list) or len(body) != 4:
            raise errors.Error(errors.INVALID, "payload cannot be decoded: malformed error value")
        kind, message, retryable, details = body
        if (
            not isinstance(kind, str)
            or not isinstance(message, str)
            or not (retryable is None or isinstance(retryable, bool))
            or not (details is None or isinstance(details, dict))
        ):
            raise errors.Error(errors.INVALID, "payload cannot be decoded: malformed error value")
        return errors.Error(kind, message, retryable=retryable, details=details)
    raise errors.Error(errors.INVALID, f"payload cannot be decoded: unknown extension type {code}")


def dumps(value: Any) -> bytes:
    """Encode ``value`` to msgpack bytes; ``INVALID`` error when it cannot be encoded."""
    try:
        return msgpack.packb(value, default=_default, use_bin_type=True)
    except errors.Error:
        raise
    except (TypeError, ValueError, OverflowError, RecursionError) as exc:
        raise errors.Error(errors.INVALID, f"payload cannot be encoded: {exc}") from None


def loads(data: bytes) -> Any:
    """Decode msgpack bytes produced by :func:`dumps`; ``INVALID`` error for anything else."""
    try:
        return _unpack(data)
    except errors.Error:
        raise
    except (ValueError, TypeError, RecursionError, msgpack.UnpackException) as exc:
        raise errors.Error(errors.INVALID, f"payload cannot be decoded: {exc}") from None


def _unpack(data: bytes) -> Any:
    try:
        return msgpack.unpackb(data, ext_hook=_ext_hook, raw=False, strict_map_key=False, timestamp=1)
    except TypeError:
        # A tuple key was packed as an array, which would come back as an
        # (unhashable) list: decode again, turning such keys back into tuples.
        return msgpack.unpackb(
            data,
            ext_hook=_ext_hook,
            raw=False,
            strict_map_key=False,
            object_pairs_hook=_with_tuple_keys,
            timestamp=1,
        )


def _with_tuple_keys(pairs: list[tuple[Any, Any]]) -> dict[Any, Any]:
    return {_frozen(key): value for key, value in pairs}


def _frozen(value: Any) -> Any:
    return tuple(_frozen(item) for item in value) if type(value) is list else value


def encode(value: Any) -> Any:
    """Snapshot ``value`` for delivery: immutables as they are, the rest packed."""
    kind = type(value)
    if value is None or kind is bool or kind is float or kind is bytes or kind is PID:
        return value
    if kind is int:
        if _INT_MIN <= value <= _INT_MAX:
            return value
    elif kind is str and value.isascii():
        return value
    return Packed(dumps(value))


def decode(value: Any) -> Any:
    """The receiver's own copy of an encoded payload."""
    if type(value) is Packed:
        return loads(value.data)
    return value


def copy(value: Any) -> Any:
    """A deep, boundary-safe copy of ``value`` (what a receiver would see)."""
    return decode(encode(value))
