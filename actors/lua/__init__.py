"""Lua processes and durable Lua workflows: the sandbox, the operations, the modules.

Packages add Lua modules with :func:`register_module` (see
:mod:`actors.lua.modules`); the standard ones (``json``, ``uuid``,
``crypto``) are registered the same way, by :mod:`actors.lua.lib`.
"""

from actors.lua import lib as _lib  # noqa: F401  (registers json, uuid, crypto)
from actors.lua.modules import (
    BUILTIN_MODULES,
    Caller,
    Handler,
    LuaModule,
    module_names,
    register_module,
    registered_module,
    unregister_module,
)

__all__ = [
    "BUILTIN_MODULES",
    "Caller",
    "Handler",
    "LuaModule",
    "module_names",
    "register_module",
    "registered_module",
    "unregister_module",
]
