"""Pure helpers behind the Lua modules, the same for processes and workflows.

Nothing here touches the clock, randomness or the outside world, so the
workflow driver can call all of it during replay: durations in Go's grammar,
time formatting, JSON with the Lua API's rules, and name-based UUIDs.
"""

from __future__ import annotations

import json
import math
import uuid
from collections.abc import Callable
from typing import Any

from actors import errors
from actors.durations import duration_seconds, parse_duration

__all__ = [
    "MAX_RANDOM_BYTES",
    "duration_seconds",
    "format_duration",
    "json_decode",
    "json_encode",
    "jsonable",
    "parse_duration",
    "random_byte_count",
    "uuid_info",
    "uuid_named",
    "uuid_v1",
    "uuid_v4",
    "uuid_v7",
]


def format_duration(ns: int) -> str:
    """Go's ``Duration.String``: ``1h2m3.5s``, ``150ms``, ``0s``."""
    if ns == 0:
        return "0s"
    sign = "-" if ns < 0 else ""
    ns = abs(ns)
    if ns < 1_000:
        return f"{sign}{ns}ns"
    if ns < 1_000_000:
        return f"{sign}{_trim(ns / 1_000)}µs"
    if ns < 1_000_000_000:
        return f"{sign}{_trim(ns / 1_000_000)}ms"
    hours, rest = divmod(ns, 3_600_000_000_000)
    minutes, rest = divmod(rest, 60_000_000_000)
    seconds = _trim(rest / 1e9)
    if hours:
        return f"{sign}{hours}h{minutes}m{seconds}s"
    if minutes:
        return f"{sign}{minutes}m{seconds}s"
    return f"{sign}{seconds}s"


def _trim(value: float) -> str:
    text = f"{value:.9f}".rstrip("0").rstrip(".")
    return text or "0"


# -- JSON -------------------------------------------------------------------------------


def json_encode(value: Any) -> str:
    """JSON for a value converted from Lua (lists are arrays, dicts objects).

    As Wippy's ``json.encode``: NaN and infinities are ``null``; a sparse array, a
    table mixing list and string keys, or binary text fail ``INTERNAL``, not retryable.
    """
    try:
        return json.dumps(jsonable(value), ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise errors.Error(errors.INTERNAL, f"json.encode: {exc}", retryable=False) from None


def jsonable(value: Any) -> Any:
    """A value Lua gave, as ``json.encode`` writes it: an empty table as ``[]``, an error as
    ``{kind, message}``; ``TypeError`` for what JSON cannot hold (sparse or mixed tables, binary)."""
    if isinstance(value, dict):
        if not value:
            return []  # an empty Lua table encodes as an array, as in the runtime
        if any(isinstance(key, int) for key in value):
            if all(isinstance(key, int) for key in value):
                raise TypeError("sparse array: the table's keys 1..n have gaps")
            raise TypeError("the table mixes array and string keys")
        return {str(key): jsonable(item) for key, item in value.items()}
    if isinstance(value, list):
        return [jsonable(item) for item in value]
    if isinstance(value, errors.Error):
        return {"kind": value.kind(), "message": value.message()}
    if isinstance(value, bytes):
        raise TypeError("binary string is not valid UTF-8")
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


MAX_RANDOM_BYTES = 16 * 1024 * 1024
"""The most ``crypto.random_bytes`` gives at once: a bigger request is refused, not allocated."""


def random_byte_count(count: Any) -> int:
    """``count`` checked for ``crypto.random_bytes``; ``INVALID`` outside 0..MAX_RANDOM_BYTES."""
    if type(count) is not int or not 0 <= count <= MAX_RANDOM_BYTES:
        raise errors.Error(
            errors.INVALID, f"crypto.random_bytes: count must be an integer from 0 to {MAX_RANDOM_BYTES}"
        )
    return count


def _json_int(digits: str) -> int | float:
    """A JSON integer: a Lua integer when it fits in 64 bits, else a float (as Lua reads it)."""
    value = int(digits)
    return value if -(2**63) <= value < 2**63 else float(value)


def json_decode(text: str) -> Any:
    """The value of JSON ``text``: ``INVALID`` for an empty text, ``INTERNAL`` for text that is
    not JSON (Wippy's kinds), neither retryable."""
    if not text:
        raise errors.Error(errors.INVALID, "json.decode: empty string", retryable=False)
    try:
        return json.loads(text, parse_int=_json_int)
    except RecursionError:
        raise errors.Error(errors.INTERNAL, "json.decode: nested too deeply", retryable=False) from None
    except (TypeError, ValueError) as exc:
        raise errors.Error(errors.INTERNAL, f"json.decode: {exc}", retryable=False) from None


# -- UUID ----------------------------------------------------------------------------------


def uuid_v4(bits: int) -> str:
    """A version 4 UUID from 128 random bits: ``workflow.uuid4()``'s construction."""
    return str(uuid.UUID(bytes=bits.to_bytes(16, "big"), version=4))


def uuid_v7(now_ns: int, random_bits: Callable[[int], int]) -> str:
    """A version 7 UUID (RFC 9562) at ``now_ns``: ``workflow.uuid7()``'s construction, the
    millisecond timestamp then 12 and 62 random bits, so a workflow replays the same UUIDs."""
    unix_ms = (now_ns // 1_000_000) & 0xFFFF_FFFF_FFFF
    rand_a = random_bits(12)
    rand_b = random_bits(62)
    return str(uuid.UUID(int=(unix_ms << 80) | (0x7 << 76) | (rand_a << 64) | (0b10 << 62) | rand_b))


def uuid_named(version: int, namespace: str, name: str) -> str:
    namespaces = {"dns": uuid.NAMESPACE_DNS, "url": uuid.NAMESPACE_URL, "oid": uuid.NAMESPACE_OID}
    try:
        space = namespaces.get(namespace.lower()) or uuid.UUID(namespace)
    except ValueError:
        raise errors.Error(errors.INVALID, f"invalid UUID namespace {namespace!r}", retryable=False) from None
    made = uuid.uuid3(space, name) if version == 3 else uuid.uuid5(space, name)
    return str(made)


_VARIANTS = {uuid.RFC_4122: "RFC4122", uuid.RESERVED_NCS: "NCS", uuid.RESERVED_MICROSOFT: "Microsoft"}
_GREGORIAN_OFFSET = 0x01B21DD213814000
"""100 ns intervals from the Gregorian reform (1582-10-15, a v1 UUID's epoch) to 1970."""


def uuid_v1(now_ns: int, random_bits: Callable[[int], int]) -> str:
    """A version 1 UUID (RFC 9562 §5.1) at ``now_ns``: the 60-bit timestamp, then a random
    clock sequence and a random node with the multicast bit set (§6.10: no MAC address is
    read), so a workflow, whose clock and randomness are recorded, replays the same UUIDs."""
    timestamp = now_ns // 100 + _GREGORIAN_OFFSET
    clock_seq = random_bits(14)
    node = random_bits(48) | (1 << 40)
    fields = (
        timestamp & 0xFFFF_FFFF,
        (timestamp >> 32) & 0xFFFF,
        (timestamp >> 48) & 0x0FFF,
        clock_seq >> 8,
        clock_seq & 0xFF,
        node,
    )
    return str(uuid.UUID(fields=fields, version=1))


def uuid_info(what: str, value: str) -> Any:
    """``uuid.validate``, ``version``, ``variant`` and ``parse`` (Wippy's table: version,
    variant, and for v1 and v7 the Unix ``timestamp`` in seconds, for v1 the 6-byte ``node``)."""
    try:
        parsed = uuid.UUID(value)
    except (ValueError, TypeError, AttributeError):
        if what == "validate":
            return False
        raise errors.Error(errors.INVALID, f"invalid UUID {value!r}", retryable=False) from None
    if what == "validate":
        return True
    if what == "version":
        return parsed.version
    variant = _VARIANTS.get(parsed.variant, "Future")
    if what == "variant":
        return variant
    info: dict[str, Any] = {"version": parsed.version, "variant": variant}
    if parsed.version == 1:
        info["timestamp"] = (parsed.time - _GREGORIAN_OFFSET) // 10_000_000
        info["node"] = parsed.node.to_bytes(6, "big")
    elif parsed.version == 7:
        info["timestamp"] = (parsed.int >> 80) // 1000
    return info


def uuid_format(value: str, style: str) -> str:
    try:
        parsed = uuid.UUID(value)
    except (ValueError, TypeError, AttributeError):
        raise errors.Error(errors.INVALID, f"invalid UUID {value!r}", retryable=False) from None
    if style == "simple":
        return parsed.hex
    if style == "urn":
        return parsed.urn
    return str(parsed)
