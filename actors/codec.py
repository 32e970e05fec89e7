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
"""

from __future__ import annotations

from typing import Any

import msgpack

from actors import errors
from actors.pid import PID

__all__ = ["ERROR_EXT", "PID_EXT", "Packed", "copy", "decode", "dumps", "encode", "loads"]

PID_EXT = 1
ERROR_EXT = 2

_INT_MIN = -(2**63)
_INT_MAX = 2**64 - 1


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
        kind, message, retryable, details = msgpack.unpackb(
            data, ext_hook=_ext_hook, raw=False, strict_map_key=False
        )
        return errors.Error(kind, message, retryable=retryable, details=details)
    return msgpack.ExtType(code, data)


def dumps(value: Any) -> bytes:
    """Encode ``value`` to msgpack bytes; ``INVALID`` error when it cannot be encoded."""
    try:
        return msgpack.packb(value, default=_default, use_bin_type=True)
    except (TypeError, ValueError, OverflowError) as exc:
        raise errors.Error(errors.INVALID, f"payload cannot be encoded: {exc}") from None


def loads(data: bytes) -> Any:
    """Decode msgpack bytes produced by :func:`dumps`."""
    try:
        return msgpack.unpackb(data, ext_hook=_ext_hook, raw=False, strict_map_key=False)
    except TypeError:
        # A tuple key was packed as an array, which would come back as an
        # (unhashable) list: decode again, turning such keys back into tuples.
        return msgpack.unpackb(
            data, ext_hook=_ext_hook, raw=False, strict_map_key=False, object_pairs_hook=_with_tuple_keys
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
