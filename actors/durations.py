"""Durations in Go's grammar (``"1h30m"``, ``"500ms"``), wherever a duration is written.

YAML entries (``lifecycle.start_timeout``, ``connection_timeout``), Temporal
option tables and the Lua ``time`` module all take the same durations; the
grammar lives here so none of them depends on another.
"""

from __future__ import annotations

import re
from fractions import Fraction
from typing import Any

from actors import errors

__all__ = ["duration_seconds", "parse_duration"]

_UNITS = {
    "ns": 1,
    "us": 1_000,
    "µs": 1_000,
    "μs": 1_000,
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60_000_000_000,
    "h": 3_600_000_000_000,
}
_MAX_NS = 2**63 - 1
_MIN_NS = -(2**63)
_PART = re.compile(r"(\d+\.?\d*|\.\d+)(ns|us|µs|μs|ms|s|m|h)")


def parse_duration(text: str) -> int:
    """Nanoseconds for a Go duration string (``"1h30m"``, ``"500ms"``, ``"-1.5s"``).

    ``INVALID`` error for anything else (no ``d`` unit, no bare numbers but
    ``"0"``) and for a duration that 64 bits of nanoseconds do not hold (Go's
    bounds, about ±2562047 h).  Computed exactly: a fraction of a nanosecond
    rounds half to even.
    """
    if not isinstance(text, str) or not text:
        raise errors.Error(errors.INVALID, f"invalid duration {text!r}")
    body = text
    sign = 1
    if body[0] in "+-":
        sign = -1 if body[0] == "-" else 1
        body = body[1:]
    if body == "0":
        return 0
    position = 0
    whole = 0
    fraction = Fraction(0)
    while position < len(body):
        match = _PART.match(body, position)
        if match is None:
            raise errors.Error(
                errors.INVALID, f"invalid duration {text[:64]!r}: use units ns, us, ms, s, m, h"
            )
        digits, _, decimals = match.group(1).partition(".")
        digits = digits.lstrip("0")
        if len(digits) > 20:  # past any bound, and past what int() converts
            raise errors.Error(errors.INVALID, f"invalid duration {text[:64]!r}: out of range")
        unit = _UNITS[match.group(2)]
        whole += int(digits or "0") * unit
        decimals = decimals[:30].rstrip("0")  # digits past a nanosecond of an hour change nothing
        if decimals:
            fraction += Fraction(int(decimals) * unit, 10 ** len(decimals))
        position = match.end()
    if position == 0:
        raise errors.Error(errors.INVALID, f"invalid duration {text!r}")
    total = sign * (round(whole + fraction) if fraction else whole)
    if not _MIN_NS <= total <= _MAX_NS:
        raise errors.Error(
            errors.INVALID,
            f"invalid duration {text[:64]!r}: out of range (at most ±2562047h47m16.854775807s)",
        )
    return total


def duration_seconds(value: Any, *, number_unit: float = 1e-3, what: str = "duration") -> float:
    """Seconds for a duration given as a string, or a number in ``number_unit`` seconds.

    Temporal option tables take milliseconds (``number_unit=1e-3``); the
    ``time`` module takes nanoseconds (``1e-9``).
    """
    if isinstance(value, bool):
        raise errors.Error(errors.INVALID, f"{what}: expected a duration, got a boolean")
    if isinstance(value, (int, float)):
        return float(value) * number_unit
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if isinstance(value, str):
        return parse_duration(value) / 1e9
    raise errors.Error(errors.INVALID, f"{what}: expected a duration string or a number, got {value!r}")
