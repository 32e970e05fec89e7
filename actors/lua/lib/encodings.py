"""The ``yaml`` and ``base64`` modules (Wippy's ``en/lua/data/yaml.md`` and ``base64.md``).

Both are pure (no clock, no randomness, no I/O), so workflows may use them.
``yaml.decode`` reads untrusted text with the bounded YAML reader the loader uses:
its size, nesting and expanded alias count are limited, so a small "billion
laughs" document is refused instead of filling the memory.
"""

from __future__ import annotations

import base64
import binascii
import datetime
from importlib import resources
from typing import Any

import yaml

from actors import errors
from actors.lua.modules import Caller, register_module

__all__ = ["MAX_YAML_INPUT"]

MAX_YAML_INPUT = 4 * 1024 * 1024
"""The largest YAML text ``yaml.decode`` reads (bytes)."""


def _as_bytes(value: Any, what: str) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode()
    raise errors.Error(errors.INVALID, f"{what}: expected a string")


# -- yaml ------------------------------------------------------------------------------------------


def _yaml_encode(caller: Caller, data: Any, options: Any = None) -> str:
    if not isinstance(data, (dict, list)):
        raise errors.Error(errors.INVALID, "yaml.encode: expected a table")
    order: list[str] = []
    sort_rest = False
    if isinstance(options, dict):
        field_order = options.get("field_order")
        if isinstance(field_order, list):
            order = [str(name) for name in field_order]
        sort_rest = options.get("sort_unordered") is True
    try:
        return yaml.safe_dump(
            _ordered(data, order, sort_rest),
            sort_keys=False,
            allow_unicode=True,
            default_flow_style=False,
        )
    except yaml.YAMLError as exc:
        raise errors.Error(errors.INVALID, f"yaml.encode: {exc}") from None


def _ordered(value: Any, order: list[str], sort_rest: bool) -> Any:
    """``value`` with every mapping's keys in ``order`` first, then the rest (sorted with ``sort_rest``)."""
    if isinstance(value, list):
        return [_ordered(item, order, sort_rest) for item in value]
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if not isinstance(value, dict):
        return value
    first = [key for key in order if key in value]
    rest = [key for key in value if key not in first]
    if sort_rest:
        rest.sort(key=str)
    return {key: _ordered(value[key], order, sort_rest) for key in [*first, *rest]}


def _yaml_decode(caller: Caller, data: Any) -> Any:
    from actors.entries.bounded_yaml import TooLarge, parse, plain  # bounded: untrusted text

    if not isinstance(data, (str, bytes)):
        raise errors.Error(errors.INVALID, "yaml.decode: expected a string")
    text = data if isinstance(data, str) else data.decode("utf-8", "replace")
    if not text.strip():
        raise errors.Error(errors.INVALID, "yaml.decode: empty string")
    if len(text) > MAX_YAML_INPUT:
        raise errors.Error(errors.LIMIT_EXCEEDED, f"yaml.decode: text longer than {MAX_YAML_INPUT} bytes")
    try:
        document = parse(text)
    except TooLarge as exc:
        raise errors.Error(errors.LIMIT_EXCEEDED, f"yaml.decode: line {exc.line}: {exc}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark is not None else ""
        reason = getattr(exc, "problem", None) or str(exc)
        raise errors.Error(errors.INTERNAL, f"yaml.decode: {where}{reason}") from None
    except Exception as exc:  # third-party parser fed untrusted text: never a traceback
        raise errors.Error(errors.INTERNAL, f"yaml.decode: {type(exc).__name__}: {exc}") from None
    return _lua_ready(plain(document))


def _lua_ready(value: Any) -> Any:
    """YAML values Lua can hold: dates as ISO text, keys as strings or numbers."""
    if isinstance(value, dict):
        result = {}
        for key, item in value.items():
            if not isinstance(key, (str, int, float)) or isinstance(key, bool):
                key = "null" if key is None else str(key).lower() if isinstance(key, bool) else str(key)
            result[key] = _lua_ready(item)
        return result
    if isinstance(value, list):
        return [_lua_ready(item) for item in value]
    if isinstance(value, (datetime.date, datetime.datetime)):
        return value.isoformat()
    if isinstance(value, (set, frozenset)):
        return sorted((_lua_ready(item) for item in value), key=repr)
    return value


# -- base64 ----------------------------------------------------------------------------------------


def _base64_encode(caller: Caller, data: Any) -> str:
    return base64.b64encode(_as_bytes(data, "base64.encode")).decode("ascii")


def _base64_decode(caller: Caller, data: Any) -> bytes:
    raw = _as_bytes(data, "base64.decode")
    try:
        return base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise errors.Error(errors.INVALID, f"base64.decode: invalid base64 data ({exc})") from None


_HERE = resources.files(__package__)

register_module(
    "yaml", _HERE / "yaml.lua", {"encode": _yaml_encode, "decode": _yaml_decode}, in_workflows=True
)
register_module(
    "base64", _HERE / "base64.lua", {"encode": _base64_encode, "decode": _base64_decode}, in_workflows=True
)
