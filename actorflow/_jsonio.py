"""JSON in and out of the command line: strict on the way in, always valid on the way out.

Arguments are values a process will receive, so what the runtime cannot
carry is refused here with ``INVALID`` and the argument's number: ``NaN``
and ``Infinity`` (not JSON), integers outside 64 bits, strings with lone
surrogates (not Unicode text), nesting deeper than :data:`MAX_DEPTH`.

Output is always valid JSON: PIDs as their text, errors as ``{kind,
message}``, bytes as UTF-8 text, and the floats JSON has no number for as
the strings ``"NaN"``, ``"Infinity"`` and ``"-Infinity"``.
"""

from __future__ import annotations

import json
import math
from typing import Any

from actors import errors
from actors.pid import PID

__all__ = ["MAX_DEPTH", "parse_json_argument", "to_json_text", "to_jsonable"]

MAX_DEPTH = 200
"""How deeply an argument may nest arrays and objects."""

_INT_MIN, _INT_MAX = -(2**63), 2**64 - 1


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _int64(digits: str) -> int:
    if len(digits.lstrip("-")) > 20:
        raise ValueError(f"integer {digits[:24]}… does not fit in 64 bits")
    value = int(digits)
    if not _INT_MIN <= value <= _INT_MAX:
        raise ValueError(f"integer {digits} does not fit in 64 bits")
    return value


def _check(value: Any, depth: int) -> None:
    if depth > MAX_DEPTH:
        raise ValueError(f"nested more than {MAX_DEPTH} levels deep")
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError("a string holds a lone surrogate (not Unicode text)") from None
    elif isinstance(value, dict):
        for key, item in value.items():
            _check(key, depth + 1)
            _check(item, depth + 1)
    elif isinstance(value, list):
        for item in value:
            _check(item, depth + 1)
    elif isinstance(value, float) and not math.isfinite(value):
        raise ValueError("a number is too large for a float")


def parse_json_argument(text: str, index: int) -> Any:
    """Argument ``index`` (1-based) parsed as JSON; ``INVALID`` with the reason otherwise."""
    try:
        value = json.loads(text, parse_constant=_refuse_constant, parse_int=_int64)
        _check(value, 0)
    except RecursionError:  # the parser's own limit, past ours: the same message
        raise errors.Error(
            errors.INVALID, f"argument {index}: nested more than {MAX_DEPTH} levels deep"
        ) from None
    except json.JSONDecodeError as exc:
        raise errors.Error(
            errors.INVALID, f"argument {index} is not JSON ({exc.msg}): {_short(text)}"
        ) from None
    except ValueError as exc:
        raise errors.Error(errors.INVALID, f"argument {index}: {exc}") from None
    return value


def _short(text: str, limit: int = 80) -> str:
    shown = text if len(text) <= limit else text[:limit] + "…"
    return shown.encode("utf-8", "backslashreplace").decode("utf-8")


def to_jsonable(value: Any, depth: int = 0) -> Any:
    """A copy of ``value`` that ``json.dumps`` turns into valid JSON (see the module docstring)."""
    if depth > 1000:
        return "…"
    if value is None or isinstance(value, (bool, int)):
        return value
    if isinstance(value, float):
        if math.isfinite(value):
            return value
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, str):
        return value.encode("utf-8", "replace").decode("utf-8")  # a lone surrogate becomes "?"
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, dict):
        return {str(to_jsonable(key, depth + 1)): to_jsonable(item, depth + 1) for key, item in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [to_jsonable(item, depth + 1) for item in value]
    if isinstance(value, errors.Error):
        return {"kind": value.kind(), "message": value.message()}
    if isinstance(value, PID):
        return str(value)
    return str(value)


def to_json_text(value: Any, *, indent: int | None = None) -> str:
    """Valid JSON text for any value a process can return."""
    return json.dumps(to_jsonable(value), ensure_ascii=False, allow_nan=False, indent=indent)
