"""Lua modules from Python: ``require("name")`` without touching the prelude.

A package adds a Lua module with :func:`register_module`: the module's Lua
source, run once per Lua state, returns the module table; its functions
reach Python through ``api.call(operation, …)``, which runs the Python
handler registered for that operation::

    register_module(
        "greet",
        'local api = ...\\n'
        'return {hello = function(name) return api.call("hello", name) end}\\n',
        {"hello": lambda caller, name: f"hello {name} from {caller.pid}"},
        in_workflows=True,
    )

The Lua source gets ``api`` as its argument (``...``):

* ``api.call(operation, ...)``: the handler's results (``value`` or
  ``nil, err``); an operation listed in ``waiting`` may wait (the calling
  coroutine is suspended, the others run);
* ``api.new_error(kind, message [, retryable [, details]])`` and
  ``api.is_error(value)``: the Lua API's error objects.

It runs in an environment like a process's (read-only libraries, ``errors``,
``require`` of the built-in modules), once per Lua state: processes that
share a state share its functions, and each sees the module table through
a read-only view of its own.

A handler is called as ``handler(caller, *args)``: ``args`` are the Lua
arguments as Python values (strings as ``str``, binary strings as ``bytes``,
tables as ``dict``/``list``, error objects as :class:`~actors.errors.Error`),
``caller`` the :class:`Caller` (the calling program's PID, entry, context,
node, clock and randomness).  It returns the Lua results: a value, or a tuple
of values.  Raising :class:`~actors.errors.Error` gives Lua ``nil, err``;
any other exception is a Lua error ``INTERNAL``.

Only the modules an entry lists under ``modules:`` can be required.  A
module whose handlers are deterministic (no I/O, no clock or randomness but
the caller's) declares ``in_workflows=True``; the others cannot be required
in a workflow.  Register modules before the app starts: a Lua state loads a
module the first time an entry listing it runs there, and keeps that version.
"""

from __future__ import annotations

import inspect
import threading
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from importlib.abc import Traversable
from pathlib import Path
from types import MappingProxyType
from typing import Any

from actors import errors

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

BUILTIN_MODULES = frozenset({"funcs", "time", "ctx", "logger", "workflow", "errors", "channel", "process"})
"""The modules the prelude itself defines."""

Handler = Callable[..., Any]
"""``handler(caller, *args) -> value | tuple of values`` (see the module docstring)."""


@dataclass(frozen=True)
class LuaModule:
    """A registered Lua module."""

    name: str
    source: str
    chunkname: str
    operations: Mapping[str, Handler]
    in_workflows: bool
    waiting: frozenset[str] = field(default_factory=frozenset)


@dataclass(frozen=True)
class Operation:
    """One operation of a module, as ``LuaCore`` dispatches it (``<module>.<operation>``)."""

    module: LuaModule
    handler: Handler
    waits: bool


_lock = threading.Lock()
_modules: dict[str, LuaModule] = {}
_operations: dict[str, Operation] = {}


def register_module(
    name: str,
    source: str | Path | Traversable,
    operations: Mapping[str, Handler],
    *,
    in_workflows: bool,
    waiting: Collection[str] = (),
    replace: bool = False,
) -> LuaModule:
    """Make ``require(name)`` load ``source`` for the entries that list ``name``.

    ``source`` is the Lua source, or a file holding it (a path, or an
    ``importlib.resources`` file of the registering package).
    ``operations`` maps each name ``api.call`` may use to its handler;
    ``waiting`` names those that may wait (they call :meth:`Caller.suspend`).
    ``in_workflows`` declares the handlers deterministic.  A second
    registration of a name is ``ALREADY_EXISTS`` unless ``replace``.
    """
    if not isinstance(name, str) or not name.isidentifier():
        raise errors.Error(errors.INVALID, f"a Lua module name must be an identifier, got {name!r}")
    if name in BUILTIN_MODULES:
        raise errors.Error(errors.ALREADY_EXISTS, f"module {name!r} is built into the prelude")
    chunkname = f"module {name}"
    if not isinstance(source, str):
        chunkname = getattr(source, "name", chunkname)
        source = source.read_text(encoding="utf-8")
    for operation, handler in operations.items():
        if not isinstance(operation, str) or not operation or not callable(handler):
            raise errors.Error(errors.INVALID, f"module {name!r}: operation {operation!r} needs a handler")
    unknown = set(waiting) - set(operations)
    if unknown:
        raise errors.Error(
            errors.INVALID, f"module {name!r}: waiting names unknown operations {sorted(unknown)}"
        )
    module = LuaModule(name, source, chunkname, dict(operations), bool(in_workflows), frozenset(waiting))
    with _lock:
        if name in _modules and not replace:
            raise errors.Error(errors.ALREADY_EXISTS, f"module {name!r} is already registered")
        for key in [key for key, found in _operations.items() if found.module.name == name]:
            del _operations[key]
        _modules[name] = module
        for operation, handler in module.operations.items():
            _operations[f"{name}.{operation}"] = Operation(
                module, _lua_arity(handler), operation in module.waiting
            )
    return module


def _lua_arity(handler: Handler) -> Handler:
    """``handler`` called the way Lua calls a function: arguments past those it takes are
    dropped, missing ones are ``None`` (nil), so ``api.call`` with the wrong count is never
    a Python ``TypeError``.  A handler taking ``*args`` gets what was passed."""
    try:
        parameters = list(inspect.signature(handler).parameters.values())[1:]  # after the caller
    except (TypeError, ValueError):
        return handler
    if any(p.kind is p.VAR_POSITIONAL for p in parameters):
        return handler
    positional = [p for p in parameters if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    most = len(positional)
    least = sum(1 for p in positional if p.default is p.empty)

    def call(caller: Caller, *args: Any) -> Any:
        count = len(args)
        if count > most:
            args = args[:most]
        elif count < least:
            args = args + (None,) * (least - count)
        return handler(caller, *args)

    return call


def unregister_module(name: str) -> bool:
    """Forget a registered module (tests); Lua states that loaded it keep it."""
    with _lock:
        module = _modules.pop(name, None)
        for key in [key for key, found in _operations.items() if found.module.name == name]:
            del _operations[key]
    return module is not None


def registered_module(name: str) -> LuaModule | None:
    return _modules.get(name)


def operation(name: str) -> Operation | None:
    """The operation ``<module>.<operation>`` Lua called through ``api.call``."""
    return _operations.get(name)


def module_names() -> frozenset[str]:
    """Every module an entry may list: the prelude's and the registered ones."""
    return BUILTIN_MODULES | frozenset(_modules)


def refusal(name: str, allowed: bool, in_workflow: bool) -> str:
    """Why ``require(name)`` fails (the message Lua raises)."""
    if name not in BUILTIN_MODULES and name not in _modules:
        return f"module '{name}' does not exist"
    if not allowed:
        return f"module '{name}' is not allowed: add it to the entry's modules list"
    if in_workflow:
        return f"module '{name}' is not available in workflows (its operations are not deterministic)"
    return f"module '{name}' does not exist"


class Caller:
    """The Lua program that called a module's operation: a handler's first argument."""

    __slots__ = ("_core", "_task", "suspended")

    def __init__(self, core: Any, task: Any) -> None:
        self._core = core
        self._task = task
        self.suspended = False

    @property
    def pid(self) -> str:
        """The program's PID, as text."""
        return str(self._core.effects.pid_text())

    @property
    def entry_id(self) -> str:
        """The ID of the entry the program runs (``app:worker``)."""
        return str(self._core.code.entry_id)

    @property
    def context(self) -> Mapping[str, Any]:
        """The program's context values (``ctx.all()``), read-only."""
        return MappingProxyType(dict(self._core.effects.context or {}))

    @property
    def node(self) -> Any:
        """The :class:`~actors.Node` of a process; ``None`` in a workflow."""
        return self._core.effects.node

    @property
    def in_workflow(self) -> bool:
        return bool(self._core.effects.in_workflow)

    def now_ns(self) -> int:
        """The program's clock (the workflow clock in a workflow), nanoseconds since 1970."""
        return int(self._core.effects.now_ns())

    def uniform(self) -> float:
        """A random float in [0, 1) (recorded in a workflow)."""
        return float(self._core.effects.uniform())

    def random_bits(self, count: int) -> int:
        """``count`` random bits (the OS's in a process, recorded in a workflow)."""
        return int(self._core.effects.random_bits(count))

    def random_bytes(self, count: int) -> bytes:
        """``count`` random bytes (the OS's in a process, recorded in a workflow)."""
        return bytes(self._core.effects.random_bytes(count))

    def suspend(self) -> Callable[..., None]:
        """Make the calling coroutine wait; returns ``resume(*values)``, which wakes it with
        ``values`` as the operation's Lua results.

        Only for operations registered as ``waiting``.  In a process,
        ``resume`` may be called from any thread (once: later calls are
        ignored); in a workflow, only from the workflow's own code.
        """
        if self._task is None:
            raise errors.Error(errors.INVALID, "this operation cannot wait outside a coroutine")
        self.suspended = True
        core, task = self._core, self._task
        answered = threading.Lock()

        def resume(*values: Any) -> None:
            if answered.acquire(blocking=False):
                core.effects.post(lambda: core.resume(task, *values))

        return resume
