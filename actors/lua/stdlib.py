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
    "parse_duration",
    "random_byte_count",
    "uuid_info",
    "uuid_named",
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
    """JSON for a value converted from Lua (lists are arrays, dicts objects)."""
    try:
        return json.dumps(_jsonable(value), ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise errors.Error(errors.INVALID, f"json.encode: {exc}") from None


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        if not value:
            return []  # an empty Lua table encodes as an array, as in the runtime
        if any(isinstance(key, int) for key in value):
            raise TypeError("table mixes array and object keys, or is a sparse array")
        return {str(key): _jsonable(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_jsonable(item) for item in value]
    if isinstance(value, errors.Error):
        return {"kind": value.kind(), "message": value.message()}
    if isinstance(value, bytes):
        raise TypeError("binary string is not valid UTF-8")
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError("NaN and infinity cannot be encoded")
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
    try:
        return json.loads(text, parse_int=_json_int)
    except RecursionError:
        raise errors.Error(errors.INVALID, "json.decode: nested too deeply") from None
    except (TypeError, ValueError) as exc:
        raise errors.Error(errors.INVALID, f"json.decode: {exc}") from None


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
        raise errors.Error(errors.INVALID, f"invalid UUID namespace {namespace!r}") from None
    made = uuid.uuid3(space, name) if version == 3 else uuid.uuid5(space, name)
    return str(made)


def uuid_info(what: str, value: str) -> Any:
    try:
        parsed = uuid.UUID(value)
    except (ValueError, TypeError, AttributeError):
        if what == "validate":
            return False
        raise errors.Error(errors.INVALID, f"invalid UUID {value!r}") from None
    if what == "validate":
        return True
    if what == "version":
        return parsed.version
    if what == "variant":
        return {uuid.RFC_4122: "RFC4122", uuid.RESERVED_NCS: "NCS", uuid.RESERVED_MICROSOFT: "Microsoft"}.get(
            parsed.variant, "Future"
        )
    return str(parsed)


def uuid_format(value: str, style: str) -> str:
    try:
        parsed = uuid.UUID(value)
    except (ValueError, TypeError, AttributeError):
        raise errors.Error(errors.INVALID, f"invalid UUID {value!r}") from None
    if style == "simple":
        return parsed.hex
    if style == "urn":
        return parsed.urn
    return str(parsed)
