"""One sandboxed Lua state, and the conversion of values across its border.

Every Lua process (and every workflow run) gets its own ``LuaState``: a
separate lupa ``LuaRuntime`` (Lua 5.5), so no table is shared between two
processes.  The state is built to hold untrusted code:

* no ``python`` module, no ``eval``, no Python builtins; an attribute filter
  that refuses every attribute of every Python object, so the few Python
  objects Lua holds (the host function, channel handles) can only be passed
  back, never explored;
* only the modules an entry lists are ``require``-able (the prelude's rule);
  no ``io``, ``debug``, ``package``, ``dofile``/``loadfile``, binary chunks
  or ``string.dump``;
* a memory cap (``max_memory``): exceeding it fails this process only;
* a fixed string hash seed, so ``pairs()`` visits keys in the same order on
  every run and every machine (workflow replay depends on it).

Strings cross as bytes (``encoding=None``): text is decoded when it is valid
UTF-8, binary data stays ``bytes``; nothing a Lua program can build makes the
conversion fail.
"""

from __future__ import annotations

import logging
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from typing import Any

from lupa import lua55

from actors import errors
from actors.channel import Channel
from actors.events import Cancel, Exit, LinkDown, Message
from actors.lua import gotime
from actors.lua import modules as lua_modules
from actors.pid import PID

logger = logging.getLogger("actors.lua")

__all__ = ["DEFAULT_MEMORY_LIMIT", "HASH_SEED", "LuaState", "lua_type"]

lua_type = lua55.lua_type
LuaError = lua55.LuaError
LuaMemoryError = lua55.LuaMemoryError

DEFAULT_MEMORY_LIMIT = 64 * 1024 * 1024
HASH_SEED = 0x61637466  # "actf": fixed so table order is the same in every OS process
_MAX_DEPTH = 64

PUSH_RESERVE = 1 << 20
"""Room kept free under a state's memory cap for what Python pushes into it."""

_PRELUDE: str | None = None


@dataclass(frozen=True)
class Payload:
    """A value that reaches Lua as a Payload object (``:data()``), e.g. a future's result."""

    data: Any


@dataclass(frozen=True)
class LuaTime:
    """A value that reaches Lua as a Time object (what timers and ``time.after`` deliver)."""

    ns: int


def prelude_source() -> str:
    global _PRELUDE
    if _PRELUDE is None:
        _PRELUDE = resources.files("actors.lua").joinpath("prelude.lua").read_text(encoding="utf-8")
    return _PRELUDE


def _deny_attributes(obj: Any, name: Any, is_setting: bool) -> Any:
    raise AttributeError("Lua code cannot access Python attributes")


class LuaState:
    """A sandboxed Lua state with the prelude loaded.

    Lua processes of a host share states (see :mod:`actors.lua.pool`); each
    process has its own global environment and only read-only views of the
    libraries, so no process can change what another sees.  A workflow run
    has a state of its own (``deterministic=True``).

    The prelude calls back into Python for operations performed outside a
    coroutine (``host``) and, in a process state, for those a task can have
    done without yielding (``host_now``); the call goes to the program *bound*
    to the calling thread with :meth:`bind` (the ``LuaCore`` of the process or
    workflow whose Lua code is running).
    """

    # Slots: attribute reads of a state are on the hot path of every operation, and an
    # instance with more than 30 attributes in a __dict__ loses CPython's fast lookups.
    __slots__ = (
        "BLOCK",
        "DONE",
        "FAIL",
        "GO",
        "OP",
        "PAUSE",
        "RAISE",
        "_add_module",
        "_allowed",
        "_anchor",
        "_bound",
        "_compile",
        "_compiled",
        "_instantiate",
        "_is_error",
        "_launch",
        "_lifted",
        "_live_handles",
        "_measure",
        "_new_error",
        "_new_message",
        "_new_payload",
        "_new_time",
        "_plugins",
        "_room",
        "api",
        "deterministic",
        "lua",
        "max_memory",
        "new_live",
        "push_lock",
        "task_body",
        "users",
        "wrap_channel",
    )

    def __init__(
        self,
        *,
        max_memory: int | None = DEFAULT_MEMORY_LIMIT,
        hash_seed: int = HASH_SEED,
        deterministic: bool = False,
    ) -> None:
        self.lua = lua55.LuaRuntime(
            encoding=None,
            register_eval=False,
            register_builtins=False,
            unpack_returned_tuples=True,
            attribute_filter=_deny_attributes,
            max_memory=max_memory,
            string_hash_seed=hash_seed,
        )
        self.max_memory = max_memory
        self.deterministic = deterministic
        self._lifted = False
        self._room: int | None = None
        self.push_lock = threading.RLock()
        """Held from measuring the room to the end of the push that uses it: processes on
        other threads share this state, and two pushes that each fit could not fit together."""
        self.users = 0
        """Processes currently running in this state (the pool's bookkeeping)."""
        self._bound = threading.local()
        self._compiled: dict[tuple[str, str], Any] = {}
        self._allowed: dict[tuple[str, ...], Any] = {}
        self._plugins: set[str] = set()
        """The registered modules (actors.lua.modules) this state has loaded."""
        # Markers are random strings: they compare equal on both sides of the
        # border and user code cannot guess them.
        token = secrets.token_hex(8)
        self.OP = f"\0op:{token}".encode()
        self.RAISE = f"\0raise:{token}".encode()
        self.DONE = f"\0done:{token}".encode()
        self.FAIL = f"\0fail:{token}".encode()
        # The statuses of host_now() (see LuaCore.immediate).
        self.GO = f"\0go:{token}".encode()
        self.PAUSE = f"\0pause:{token}".encode()
        self.BLOCK = f"\0block:{token}".encode()
        config = self.lua.table()
        config[b"deterministic"] = deterministic
        for key, marker in (
            (b"OP", self.OP),
            (b"RAISE", self.RAISE),
            (b"DONE", self.DONE),
            (b"FAIL", self.FAIL),
            (b"GO", self.GO),
            (b"PAUSE", self.PAUSE),
            (b"BLOCK", self.BLOCK),
        ):
            config[key] = marker
        config[b"time_layouts"] = self.lua.table_from(
            {name.encode(): layout.encode() for name, layout in gotime.LAYOUTS.items()}
        )
        if not deterministic:
            # Processes perform operations from inside a task without yielding when they
            # can; a workflow yields every one, so that its scheduler sees (and replays) it.
            config[b"host_now"] = self._host_now
        # Loaded under its own name: an error raised in its code reads "prelude:12:", not lupa's
        # '[string "<python>"]:12:'.
        prelude = self.lua.eval("load")(prelude_source().encode(), b"=prelude", b"t")
        self.api = prelude(self._host, config)
        self._new_error = self.api[b"new_error"]
        self._is_error = self.api[b"is_error"]
        self._new_message = self.api[b"new_message"]
        self._new_payload = self.api[b"new_payload"]
        self._new_time = self.api[b"new_time"]
        self._compile = self.api[b"compile"]
        self._instantiate = self.api[b"instantiate"]
        self._launch = self.api[b"launch"]
        self._add_module = self.api[b"add_module"]
        self.task_body = self.api[b"task_body"]
        self.wrap_channel = self.api[b"wrap_channel"]
        self._anchor = self.lua.eval("function(...) return ... end")  # see anchored()
        self.new_live = self.api[b"new_live"]
        self._live_handles = self.api[b"live_handles"]
        self._measure = self.api[b"measure"]

    # -- which program the prelude calls back ----------------------------------------------

    def bind(self, core: Any) -> None:
        """Route this thread's callbacks from the prelude to ``core`` (a ``LuaCore``)."""
        self._bound.core = core

    def _host(self, name: bytes, *args: Any) -> Any:
        core = getattr(self._bound, "core", None)
        if core is None:
            return self._unbound(name)
        try:
            return core.direct(name, *args)
        except Exception as exc:  # limits (crash fix): see _failed()
            return self._failed(name, exc)

    def _host_now(self, name: bytes, *args: Any) -> Any:
        core = getattr(self._bound, "core", None)
        if core is None:
            return self._unbound(name)
        try:
            return core.immediate(name, *args)
        except Exception as exc:  # limits (crash fix): see _failed()
            return self._failed(name, exc)

    def _failed(self, name: bytes, exc: Exception) -> tuple[Any, ...]:
        """An operation that raised: a Lua error (``INVALID`` when Lua code it ran failed, else
        ``INTERNAL``), never the Python exception itself.

        lupa keeps the last exception a callback raised into Lua, traceback
        and all; its frames hold the callback's arguments, Lua objects bound
        to the calling coroutine, and freeing them after Lua collected that
        coroutine crashes the interpreter (see :meth:`anchored`).
        """
        if isinstance(exc, LuaMemoryError):
            error = errors.Error(errors.LIMIT_EXCEEDED, "Lua memory limit exceeded", retryable=False)
        elif isinstance(exc, LuaError):  # Lua code the operation ran failed: a value's __tostring…
            error = errors.Error(errors.INVALID, f"{text(name)}: {exc}")
        else:
            logger.warning("Lua operation %s failed", text(name), exc_info=True)
            error = errors.Error(errors.INTERNAL, f"{text(name)}: {type(exc).__name__}: {exc}")
        exc.__traceback__ = None
        del exc
        self.lift_cap()  # restored when the task next yields (LuaTask.send)
        return (self.RAISE, self.error_to_lua(error))

    def measure(self, programs: list[list[Any]]) -> list[int]:
        """Estimated bytes each program reaches (``programs``: each one's coroutines and values).

        The walk itself needs memory in a state that is short of it: the cap
        is lifted while it runs (and the garbage it leaves collected).
        """
        lua = self.lua
        cap = self.max_memory
        lua.set_max_memory(0)
        try:
            sizes = self._measure(lua.table(*[lua.table(*roots) for roots in programs]))
            return [int(sizes[index + 1] or 0) for index in range(len(programs))]
        finally:
            lua.gccollect()
            lua.set_max_memory(cap or 0)

    def live_handles(self, live: Any) -> list[int]:
        """The channel handles whose wrappers Lua still holds (``live``: a program's table)."""
        return [int(handle) for handle in self._live_handles(live).values()]

    def _unbound(self, name: bytes) -> tuple[Any, ...]:
        error = errors.Error(errors.INTERNAL, f"Lua called {text(name)} with no process bound")
        return (self.RAISE, self.error_to_lua(error))

    def anchored(self, values: tuple[Any, ...]) -> tuple[Any, ...]:
        """``values``, each Lua object in them referenced from the state's main thread.

        lupa ties a Lua object that reaches Python to the coroutine that passed it and
        works on that coroutine's stack when it releases the object: once the coroutine
        has ended and Lua has collected it, that is a use after free which crashes the
        OS process (lupa issue 84).  What Python keeps past the calling coroutine (a
        channel's buffered value, a spawned task's coroutine) goes through here: the
        same objects, passed through a function called on the main thread.
        """
        if all(lua_type(value) is None for value in values):
            return values
        try:
            result = self._anchor(*values)
        except LuaError:
            raise errors.Error(errors.LIMIT_EXCEEDED, "Lua memory limit exceeded", retryable=False) from None
        return result if len(values) > 1 else (result,)

    # -- code ------------------------------------------------------------------------------------

    def compile(self, source: str, chunkname: str) -> Any:
        """The entry's code, compiled once per state; ``INVALID`` with file and line on a syntax error."""
        key = (chunkname, source)
        compiled = self._compiled.get(key)
        if compiled is None:
            compiled, message = _pair(self._compile(source.encode(), chunkname.encode()))
            if compiled is None:
                raise errors.Error(errors.INVALID, text(message))
            self._compiled[key] = compiled
        return compiled

    def launch(self, code: Any, args: tuple[Any, ...]) -> tuple[Any, tuple[Any, ...]]:
        """Instantiate ``code`` and run its main coroutine to its first operation, in one call.

        Returns the Lua coroutine and what its first resume yielded (every
        call into Lua releases and retakes the GIL: fewer calls, less waiting).
        """
        bytecode = self.compile(code.source, code.chunkname)
        allowed = self._allowed_table(code.modules)
        result = self._launch(bytecode, code.chunkname.encode(), code.method.encode(), allowed, *args)
        if type(result) is not tuple:
            result = (result,)
        thread = result[0]
        if thread is None:
            raise errors.Error(errors.INVALID, text(result[1] if len(result) > 1 else b"cannot start"))
        if not result[1]:  # the resume itself failed (out of memory before the handler ran)
            return thread, (self.FAIL, result[2] if len(result) > 2 else b"not enough memory")
        return thread, result[2:]

    def _allowed_table(self, modules: tuple[str, ...] | list[str]) -> Any:
        """The Lua list of modules an entry may require, its plug-in modules loaded first."""
        key = tuple(modules)
        allowed = self._allowed.get(key)
        if allowed is None:
            allowed = self.lua.table_from([name.encode() for name in modules])
            if self._load_plugins(key):  # else try again next time: one may be registered later
                self._allowed[key] = allowed
        return allowed

    def _load_plugins(self, names: tuple[str, ...]) -> bool:
        """Load the registered modules among ``names`` that this state has not loaded yet
        (in a workflow state, only those declared deterministic). False if one is unknown."""
        complete = True
        for name in names:
            if name in self._plugins or name in lua_modules.BUILTIN_MODULES:
                continue
            module = lua_modules.registered_module(name)
            if module is None:
                complete = False
                continue
            if self.deterministic and not module.in_workflows:
                continue  # require() says why
            with self.push_lock:
                loaded, message = _pair(
                    self._add_module(name.encode(), module.source.encode(), module.chunkname.encode())
                )
            if not loaded:
                raise errors.Error(errors.INVALID, f"Lua module {name!r} does not load: {text(message)}")
            self._plugins.add(name)
        return complete

    def load_entry(
        self, source: str, chunkname: str, method: str, modules: tuple[str, ...] | list[str] = ()
    ) -> Any:
        """The entry's function, in a new environment allowed ``modules``; ``INVALID`` error otherwise."""
        bytecode = self.compile(source, chunkname)
        allowed = self._allowed_table(modules)
        fn, message = _pair(self._instantiate(bytecode, chunkname.encode(), method.encode(), allowed))
        if fn is None:
            raise errors.Error(errors.INVALID, text(message))
        return fn

    def memory_used(self) -> int:
        return int(self.lua.get_memory_used() or 0)

    # -- memory: what Python pushes must fit -------------------------------------------------

    def measured(self, convert: Callable[..., Any], *args: Any) -> Any:
        """``convert(*args)`` with the room left under the cap measured, under the push lock.

        An allocation that fails inside Lua code is an ordinary Lua error, but
        one made on Python's behalf (pushing a message, a result, an argument)
        is not protected: Lua aborts the whole OS process.  So :meth:`to_lua`
        spends from the room measured here as it converts, and refuses
        (``LIMIT_EXCEEDED``) a value that might not fit, ``PUSH_RESERVE`` to
        spare; conversions outside a measured push are not counted.

        The lock is re-entrant: a caller that pushes the result itself holds it
        around this call, so nothing else fills the room in between.
        """
        with self.push_lock:
            cap = self.max_memory
            self._room = cap - self.lua.get_memory_used() - PUSH_RESERVE if cap else None
            try:
                return convert(*args)
            finally:
                self._room = None

    def _spend(self, size: int) -> None:
        room = self._room - size  # type: ignore[operator]
        if room < 0:
            self.lua.gccollect()  # garbage counts until collected: collect before refusing
            room = self.max_memory - self.lua.get_memory_used() - PUSH_RESERVE - size  # type: ignore[operator]
            if room < 0:
                raise errors.Error(
                    errors.LIMIT_EXCEEDED, "Lua memory limit exceeded: no room for the value", retryable=False
                )
        self._room = room

    def lift_cap(self) -> None:
        """Let the small push of an error through a state at its cap (undone by :meth:`restore_cap`)."""
        if self.max_memory:
            self.lua.set_max_memory(self.max_memory + PUSH_RESERVE)
            self._lifted = True

    def restore_cap(self) -> None:
        if self._lifted:
            self._lifted = False
            self.lua.set_max_memory(self.max_memory)

    # -- Python -> Lua --------------------------------------------------------------------

    def to_lua(self, value: Any, depth: int = 0) -> Any:
        """A Lua value for a Python one (tables for dicts and lists, error objects, …)."""
        kind = type(value)
        if value is None or kind is bool or kind is int or kind is float:
            return value
        if kind is str:
            value = value.encode()
            kind = bytes
        if kind is bytes:
            if self._room is not None:
                self._spend(len(value) + 48)
            return value
        if lua_type(value) is not None:
            return value  # already a Lua value (a table travelling through a channel)
        if depth > _MAX_DEPTH:
            raise errors.Error(errors.INVALID, "value nested too deeply")
        if kind is PID:
            return str(value).encode()
        if kind is Channel:  # a handle of the bound program, never the Python object (lupa 294)
            core = getattr(self._bound, "core", None)
            if core is None:
                raise errors.Error(errors.INTERNAL, "a channel reached Lua with no program bound")
            return core.wrap(value)
        if isinstance(value, errors.Error):
            return self.error_to_lua(value)
        if kind is dict:
            if self._room is not None:
                self._spend(64 + 96 * len(value))
            table = self.lua.table()
            for key, item in value.items():
                if item is not None:
                    table[self.to_lua(key, depth + 1)] = self.to_lua(item, depth + 1)
            return table
        if kind is list or kind is tuple:
            if self._room is not None:
                self._spend(64 + 40 * len(value))
            table = self.lua.table()
            for index, item in enumerate(value, 1):
                if item is not None:
                    table[index] = self.to_lua(item, depth + 1)
            return table
        if kind is Message:
            return self.message_to_lua(value)
        if kind is Exit or kind is LinkDown:
            return self.event_to_lua(value)
        if kind is Cancel:
            return self.event_to_lua(value)
        if kind is LuaTime:
            return self._new_time(value.ns)
        if kind is Payload:
            return self._new_payload(self.to_lua(value.data, depth + 1))
        if isinstance(value, (set, frozenset)):
            return self.to_lua(sorted(value, key=repr), depth)
        raise errors.Error(errors.INVALID, f"cannot pass a {kind.__name__} to Lua")

    def to_lua_all(self, values: tuple[Any, ...] | list[Any]) -> tuple[Any, ...]:
        return tuple(map(self.to_lua, values))

    def error_to_lua(self, err: errors.Error) -> Any:
        """The Lua error object for ``err``: ``details()["context"]`` (what ``errors.wrap``
        adds) is its context, shown by ``tostring`` and never part of ``details()``."""
        details = err.details()
        context = None
        if details and isinstance(details.get("context"), str):
            details = dict(details)
            context = details.pop("context").encode()
        return self._new_error(
            err.kind().encode(),
            err.message().encode(),
            err.retryable(),
            self.to_lua(details) if details else None,
            None,
            context,
        )

    def message_to_lua(self, message: Message) -> Any:
        values = self.lua.table()
        payloads = message.payloads
        for index, item in enumerate(payloads, 1):
            if item is not None:
                values[index] = self.to_lua(item)
        sender = str(message.sender).encode() if message.sender is not None else b""
        return self._new_message(message.topic.encode(), sender, len(payloads), values)

    def event_to_lua(self, event: Exit | LinkDown | Cancel) -> Any:
        table = self.lua.table()
        table[b"kind"] = event.kind.encode()
        table[b"at"] = event.at  # unix seconds, on every host
        if isinstance(event, Cancel):
            table[b"from"] = str(event.sender).encode() if event.sender is not None else b"{|}"
            table[b"reason"] = event.reason.encode()
            if event.deadline is not None:
                table[b"deadline"] = event.deadline
            return table
        table[b"from"] = str(event.pid).encode()
        result = self.lua.table()
        if event.value is not None:
            result[b"value"] = self.to_lua(event.value)
        if event.error is not None:
            result[b"error"] = self.error_to_lua(event.error)
        table[b"result"] = result
        return table

    # -- Lua -> Python ---------------------------------------------------------------------

    def from_lua(self, value: Any, depth: int = 0) -> Any:
        """Plain Python data for a Lua value: copyable across any process boundary.

        Sequences (keys 1..n) become lists, other tables dicts, error objects
        :class:`~actors.errors.Error`; functions, coroutines and userdata do
        not survive (``None``), as the spec says.
        """
        kind = type(value)
        if kind is bytes:
            return text_or_bytes(value)
        if value is None or kind is bool or kind is int or kind is float:
            return value
        lua_kind = lua_type(value)
        if lua_kind != "table":
            return None
        if depth > _MAX_DEPTH:
            raise errors.Error(errors.INVALID, "value nested too deeply (or cyclic)")
        if self._is_error(value):
            return self.error_from_lua(value)
        items = list(value.items())
        count = len(items)
        if count and all(type(key) is int for key, _ in items):
            keys = sorted(key for key, _ in items)
            if keys[0] == 1 and keys[-1] == count:
                ordered = dict(items)
                return [self.from_lua(ordered[index], depth + 1) for index in range(1, count + 1)]
        result: dict[Any, Any] = {}
        for key, item in items:
            if type(key) is bytes:
                key = text_or_bytes(key)
            elif type(key) is float:
                key = int(key) if key.is_integer() else str(key)
            elif type(key) is not int:
                continue
            result[key] = self.from_lua(item, depth + 1)
        return result

    def result_from_lua(self, value: Any, path: str = "the result", depth: int = 0) -> Any:
        """Plain data for what a program returns, or ``INVALID`` naming what cannot leave it.

        As :meth:`from_lua`, except that what it would lose silently is refused with the
        path to it: a function, a coroutine or a Python handle (``null`` on the way out),
        and a table key that is not a string or a number (dropped).
        """
        kind = type(value)
        if kind is bytes:
            return text_or_bytes(value)
        if value is None or kind is bool or kind is int or kind is float:
            return value
        lua_kind = lua_type(value)
        if lua_kind != "table":
            raise errors.Error(
                errors.INVALID,
                f"{path} is a {lua_kind or 'userdata'}: a program returns data (nil, booleans, numbers,"
                " strings, and tables of them)",
                retryable=False,
            )
        if depth > _MAX_DEPTH:
            raise errors.Error(errors.INVALID, f"{path} is nested too deeply (or cyclic)", retryable=False)
        if self._is_error(value):
            return self.error_from_lua(value)
        items = list(value.items())
        count = len(items)
        if count and all(type(key) is int for key, _ in items):
            keys = sorted(key for key, _ in items)
            if keys[0] == 1 and keys[-1] == count:
                ordered = dict(items)
                return [
                    self.result_from_lua(ordered[index], f"{path}[{index}]", depth + 1)
                    for index in range(1, count + 1)
                ]
        result: dict[Any, Any] = {}
        for key, item in items:
            key_kind = type(key)
            if key_kind is bytes:
                key = text_or_bytes(key)
                where = f"{path}.{text(key)}"
            elif key_kind is int:
                where = f"{path}[{key}]"
            elif key_kind is float:
                where = f"{path}[{key}]"
                key = int(key) if key.is_integer() else str(key)
            else:
                shown = (
                    ("true" if key else "false") if key_kind is bool else f"a {lua_type(key) or 'userdata'}"
                )
                raise errors.Error(
                    errors.INVALID,
                    f"{path} has a key that is {shown}: the keys of a table a program returns are"
                    " strings or numbers",
                    retryable=False,
                )
            result[key] = self.result_from_lua(item, where, depth + 1)
        return result

    def error_from_lua(self, value: Any) -> errors.Error:
        kind = text(value[b"_kind"] or b"")
        message = text(value[b"_message"] or b"")
        retryable = value[b"_retryable"]
        details = value[b"_details"]
        context = value[b"_context"]
        converted = self.from_lua(details) if details is not None else None
        if converted is not None and not isinstance(converted, dict):
            converted = {"value": converted}
        if context is not None:
            converted = {**(converted or {}), "context": text(context)}
        return errors.Error(
            kind, message, retryable=retryable if isinstance(retryable, bool) else None, details=converted
        )

    def is_error(self, value: Any) -> bool:
        return lua_type(value) == "table" and bool(self._is_error(value))

    def collect(self) -> None:
        """Run Lua's garbage collector (after a process left a shared state)."""
        self.lua.gccollect()

    def close(self) -> None:
        """Drop references so the Lua state can be freed."""
        self.api = None
        self.lua = None  # type: ignore[assignment]


def _pair(result: Any) -> tuple[Any, Any]:
    """Two Lua return values as a pair (lupa returns a lone value unwrapped)."""
    if type(result) is tuple:
        return (result[0] if result else None, result[1] if len(result) > 1 else None)
    return result, None


def text(value: Any) -> str:
    """A Lua string (bytes) as text; replacement characters for invalid UTF-8."""
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return "" if value is None else str(value)


def text_or_bytes(value: bytes) -> str | bytes:
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        return value
