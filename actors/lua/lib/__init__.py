"""The standard plug-in modules: ``json``, ``uuid``, ``crypto``, ``security`` and ``os`` here;
``yaml`` and ``base64`` in :mod:`.encodings`, ``hash`` in :mod:`.hashes`, ``text`` in
:mod:`.textproc` (each registers itself when imported).

They are registered with :func:`~actors.lua.modules.register_module` like the
module of any other package would be (their Lua sources are beside this
file).  All but ``security`` may be used in workflows (as in Wippy): their
only clock and randomness are the caller's, recorded there.
"""

from __future__ import annotations

from importlib import resources
from typing import Any

from actors import errors
from actors.lua import stdlib
from actors.lua.lib import cryptolib, jsonschema
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


def _json_validate(caller: Caller, schema: Any, data: Any, is_text: Any) -> tuple[Any, ...]:
    if isinstance(schema, (str, bytes)):
        try:
            schema = stdlib.json_decode(_text(schema))
        except errors.Error as err:
            raise errors.Error(
                errors.INVALID, f"json.validate: the schema is not JSON: {err.message()}", retryable=False
            ) from None
    if is_text:
        data = stdlib.json_decode(_text(data))
    try:
        problems = jsonschema.validate(schema, data)
    except jsonschema.SchemaError as exc:
        raise errors.Error(
            errors.INVALID, f"json.validate: the schema does not compile: {exc}", retryable=False
        ) from None
    if problems:
        return False, jsonschema.problems_error(problems)
    return (True,)


def _uuid_new(caller: Caller, kind: Any) -> str:
    if kind == "v1":
        return stdlib.uuid_v1(caller.now_ns(), caller.random_bits)
    if kind == "v7":
        return stdlib.uuid_v7(caller.now_ns(), caller.random_bits)
    return stdlib.uuid_v4(caller.random_bits(128))


def _uuid_named(caller: Caller, version: Any, namespace: Any, name: Any) -> str:
    return stdlib.uuid_named(int(version), _text(namespace), _text(name))


def _uuid_info(caller: Caller, what: Any, value: Any) -> Any:
    return stdlib.uuid_info(_text(what), _text(value))


def _uuid_format(caller: Caller, value: Any, style: Any) -> str:
    return stdlib.uuid_format(_text(value), _text(style))


_HERE = resources.files(__name__)

register_module(
    "json",
    _HERE / "json.lua",
    {"encode": _json_encode, "decode": _json_decode, "validate": _json_validate},
    in_workflows=True,
)
register_module(
    "uuid",
    _HERE / "uuid.lua",
    {"new": _uuid_new, "named": _uuid_named, "info": _uuid_info, "format": _uuid_format},
    in_workflows=True,
)
register_module("crypto", _HERE / "crypto.lua", cryptolib.OPERATIONS, in_workflows=True)
register_module("security", _HERE / "security.lua", {}, in_workflows=False)
register_module("os", _HERE / "os.lua", {}, in_workflows=True)

# Wippy's pure modules, each registered by its own file: yaml and base64, hash, text.
from actors.lua.lib import encodings, hashes, textproc  # noqa: E402, F401
