"""The standard plug-in modules: ``json``, ``uuid`` and ``crypto``.

They are registered with :func:`~actors.lua.modules.register_module` like the
module of any other package would be (their Lua sources are beside this
file), and all three may be used in workflows: their only clock and
randomness are the caller's, recorded there.
"""

from __future__ import annotations

import uuid
from importlib import resources
from typing import Any

from actors.lua import stdlib
from actors.lua.modules import Caller, register_module
from actors.lua.runtime import text

__all__: list[str] = []


def _text(value: Any) -> str:
    """A string argument as text (invalid UTF-8 replaced), as the operations always took it."""
    return value if type(value) is str else text(value)


def _json_encode(caller: Caller, value: Any) -> str:
    return stdlib.json_encode(value)


def _json_decode(caller: Caller, value: Any) -> Any:
    return stdlib.json_decode(_text(value))


def _uuid_new(caller: Caller, kind: Any) -> str:
    if kind == "v1" and not caller.in_workflow:  # a workflow has no MAC address or clock sequence: v4
        return str(uuid.uuid1())
    if kind == "v7":
        return stdlib.uuid_v7(caller.now_ns(), caller.random_bits)
    return stdlib.uuid_v4(caller.random_bits(128))


def _uuid_named(caller: Caller, version: Any, namespace: Any, name: Any) -> str:
    return stdlib.uuid_named(int(version), _text(namespace), _text(name))


def _uuid_info(caller: Caller, what: Any, value: Any) -> Any:
    return stdlib.uuid_info(_text(what), _text(value))


def _uuid_format(caller: Caller, value: Any, style: Any) -> str:
    return stdlib.uuid_format(_text(value), _text(style))


def _random_bytes(caller: Caller, count: Any) -> bytes:
    return caller.random_bytes(stdlib.random_byte_count(count))


_HERE = resources.files(__name__)

register_module(
    "json",
    _HERE / "json.lua",
    {"encode": _json_encode, "decode": _json_decode},
    in_workflows=True,
)
register_module(
    "uuid",
    _HERE / "uuid.lua",
    {"new": _uuid_new, "named": _uuid_named, "info": _uuid_info, "format": _uuid_format},
    in_workflows=True,
)
register_module("crypto", _HERE / "crypto.lua", {"random_bytes": _random_bytes}, in_workflows=True)
