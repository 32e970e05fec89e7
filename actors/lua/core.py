"""What every Lua driver shares: tasks, operation dispatch, results.

A Lua program's coroutines are :class:`LuaTask` objects in the process's
:class:`~actors._tasks.Scheduler`.  When Lua code performs an operation, the
prelude yields ``(OP, name, args…)``; ``LuaTask`` turns channel operations
into the scheduler's own operations and everything else into ``(LUA_OP,
name, args)`` for :class:`LuaCore`, which calls the handler ``op_<name>``:
first on the *world* (the process driver, or the workflow driver), then its
own (operations that are the same everywhere: channels, topics, JSON, …).

A handler returns ``(True, values)`` when done (a tuple of Lua return
values), ``(False, exc)`` to raise in Lua, or ``None`` when it will wake the
task later with :meth:`LuaCore.resume`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from actors import errors
from actors._routing import Router
from actors._tasks import PAUSE, SPAWN, YIELD, Scheduler, Task
from actors.channel import RECV, SELECT, SEND, Channel, ChannelClosed, ready_case
from actors.lua import gotime, stdlib
from actors.lua.runtime import LuaMemoryError, LuaState, text

__all__ = ["LUA_OP", "LuaCore", "LuaFailure", "LuaTask"]

LUA_OP = "lua"  # (LUA_OP, name, args)

_HANDLERS: dict[tuple[type, str], tuple[bool, Any]] = {}
"""``(world class, operation)`` -> ``(on the world?, op_<name> function)``, found once."""

logger = logging.getLogger("actors.lua")


class LuaFailure(Exception):
    """A Lua task ended with an uncaught error; ``error`` is the converted Error."""

    def __init__(self, error: errors.Error) -> None:
        super().__init__(error.message())
        self.error = error


class LuaTask:
    """A Lua coroutine speaking the scheduler's coroutine protocol."""

    __slots__ = ("_first", "_pending", "_started", "core", "state", "thread")

    def __init__(
        self, core: LuaCore, fn: Any = None, args: tuple[Any, ...] = (), *, launched: Any = None
    ) -> None:
        self.core = core
        self.state = core.state
        self._pending: str | None = None
        self._started = False
        if launched is not None:
            # Already run to its first operation (LuaState.launch), or parked (coroutine.spawn).
            self.thread, self._first = launched
        else:
            self.thread = core.state.task_body.coroutine(fn, *args)
            self._first = None

    def ended_at_launch(self) -> tuple[bool, Any] | None:
        """How the program ended if it did in its first run (``LuaState.launch``), else ``None``.

        ``(True, return values)`` or ``(False, LuaFailure)``, as the scheduler
        would have seen them from the task's first step.
        """
        first = self._first
        if (
            type(first) is not tuple
            or not first
            or (first[0] != self.state.DONE and first[0] != self.state.FAIL)
        ):
            return None
        self._first = None
        self._started = True
        self.state.restore_cap()
        try:
            self._interpret(first)
        except StopIteration as stop:
            return True, stop.value
        except LuaFailure as failure:
            return False, failure
        return None  # pragma: no cover - DONE and FAIL always raise

    def send(self, value: Any) -> Any:
        state = self.state
        state.bind(self.core)
        if not self._started:
            self._started = True
            first, self._first = self._first, None
            if first is not None:
                state.restore_cap()
                return self._interpret(first)
            with state.push_lock:
                result = self.thread.send(None)
                state.restore_cap()
            return self._interpret(result)
        with state.push_lock:
            try:
                values = state.measured(self._lua_results, value)
            except errors.Error as refused:
                return self.throw(refused)
            result = self.thread.send(values)
            state.restore_cap()  # a direct operation may have lifted it to push an error
        return self._interpret(result)

    def throw(self, exc: BaseException) -> Any:
        self._pending = None
        state = self.state
        state.bind(self.core)
        with state.push_lock:
            state.lift_cap()  # the error must get in even when the state is at its cap
            try:
                value = state.error_to_lua(exc) if isinstance(exc, errors.Error) else str(exc).encode()
                result = self.thread.send((state.RAISE, value))
            finally:
                state.restore_cap()
        return self._interpret(result)

    def close(self) -> None:
        self.thread = None  # type: ignore[assignment]

    def _lua_results(self, value: Any) -> Any:
        pending, self._pending = self._pending, None
        to_lua = self.state.to_lua
        if pending == SELECT:
            index, item, ok = value
            return (index + 1 if index >= 0 else 0, to_lua(item), ok)
        if pending in (SPAWN, YIELD):
            return True
        if type(value) is tuple:
            return tuple(to_lua(item) for item in value)
        return to_lua(value)

    def _interpret(self, result: Any) -> Any:
        if type(result) is not tuple:
            result = (result,)
        state = self.state
        head = result[0] if result else None
        if head == state.OP:
            name = result[1]
            if name == b"chan_recv":
                self._pending = RECV
                return (RECV, _channel(result[2]))
            if name == b"chan_send":
                self._pending = SEND
                return (SEND, _channel(result[2]), result[3] if len(result) > 3 else None)
            if name == b"chan_select":
                self._pending = SELECT
                return (SELECT, _select_cases(result[2], result[3], result[4], result[5]), bool(result[6]))
            if name == b"spawn_task":
                self._pending = SPAWN
                return (SPAWN, LuaTask(self.core, launched=(result[2], None)))
            if name == b"pause":
                self._pending = YIELD
                return (PAUSE,)
            self._pending = LUA_OP
            return (LUA_OP, name.decode(), result[2:])
        if head == state.DONE:
            raise StopIteration(result[1:])
        if head == state.FAIL:
            failure = result[1] if len(result) > 1 else None
            if failure == b"not enough memory":  # Lua skips the message handler for LUA_ERRMEM
                raise LuaFailure(
                    errors.Error(errors.LIMIT_EXCEEDED, "Lua memory limit exceeded", retryable=False)
                )
            if state.is_error(failure):
                raise LuaFailure(state.error_from_lua(failure))
            raise LuaFailure(errors.Error(errors.INTERNAL, text(failure)))
        # A bare coroutine.yield() in a task: just let the others run.
        self._pending = YIELD
        return (YIELD,)


def _value_or_error(compute: Callable[..., Any], *args: Any, spread: bool = False) -> tuple[bool, Any]:
    """``compute(*args)`` as the operation's value (its values with ``spread``), or
    ``nil, err`` when it fails as expected: the spec's way of reporting, never a raise."""
    try:
        value = compute(*args)
    except errors.Error as err:
        return True, (None, err)
    return True, (value if spread else (value,))


def _integer(value: Any, what: str) -> int:
    if type(value) is int:
        return value
    if type(value) is float and value.is_integer():
        return int(value)
    raise errors.Error(errors.INVALID, f"{what}: expected integers, got {value!r}")


def _channel(handle: Any) -> Channel:
    if not isinstance(handle, Channel):
        raise errors.Error(errors.INVALID, "expected a channel")
    return handle


def _select_cases(handles: Any, sends: Any, values: Any, count: int) -> list[tuple[Channel, bool, Any]]:
    cases = []
    for index in range(1, int(count) + 1):
        cases.append((_channel(handles[index]), bool(sends[index]), values[index]))
    return cases


class LuaCore:
    """Dispatches a Lua program's operations; owns the program's Lua state."""

    __slots__ = ("_subscriptions", "router", "scheduler", "state", "world")

    def __init__(self, state: LuaState, router: Router, scheduler: Scheduler, world: Any) -> None:
        self.state = state
        self.router = router
        self.scheduler = scheduler
        self.world = world
        self._subscriptions: dict[int, tuple[Any, Channel]] | None = None  # made on first use

    def subscription(self, channel: Channel) -> Any:
        """The one Lua channel object of a subscription channel (inbox, events, a topic)."""
        if self._subscriptions is None:
            self._subscriptions = {}
        wrapper = self._subscriptions.get(id(channel))
        if wrapper is None:
            wrapper = self._subscriptions[id(channel)] = (self.state.wrap_channel(channel), channel)
        return wrapper[0]

    # -- tasks and results ----------------------------------------------------------------

    def load(self, code: Any) -> Any:
        """The entry function of ``code`` in a new environment of this program's state."""
        self.state.bind(self)
        return self.state.load_entry(code.source, code.chunkname, code.method, code.modules)

    def main_task(self, fn: Any, args: tuple[Any, ...]) -> LuaTask:
        state = self.state
        with state.push_lock:  # the coroutine is made with its arguments: they are pushed here
            return LuaTask(self, fn, state.measured(state.to_lua_all, args))

    def launch(self, code: Any, args: tuple[Any, ...]) -> LuaTask:
        """The main task of ``code``, already run to its first operation (one call into Lua)."""
        state = self.state
        state.bind(self)
        with state.push_lock:
            launched = state.launch(code, state.measured(state.to_lua_all, args))
        return LuaTask(self, launched=launched)

    def result_of(self, ok: bool, value: Any) -> tuple[Any, errors.Error | None]:
        """The spec's result rule: first value is the result, a non-nil second value an error."""
        state = self.state
        if not ok:
            if isinstance(value, LuaFailure):
                return None, value.error
            if isinstance(value, errors.Error):
                return None, value
            if isinstance(value, LuaMemoryError):
                return None, errors.Error(errors.LIMIT_EXCEEDED, "Lua memory limit exceeded", retryable=False)
            return None, errors.from_exception(value)
        values = value or ()
        result = state.from_lua(values[0]) if len(values) > 0 else None
        problem = values[1] if len(values) > 1 else None
        if problem is None:
            return result, None
        if state.is_error(problem):
            return result, state.error_from_lua(problem)
        return result, errors.Error(errors.INTERNAL, text(problem), retryable=False)

    def resume(self, task: Task, *values: Any) -> None:
        """Wake ``task`` with Lua return values (for handlers that completed later)."""
        self.scheduler.wake(task, values)

    # -- dispatch ----------------------------------------------------------------------------

    def dispatch(self, task: Task | None, name: str, args: tuple[Any, ...]) -> tuple[bool, Any] | None:
        world = self.world
        key = (world.__class__, name)
        found = _HANDLERS.get(key)
        if found is None:
            method = getattr(world.__class__, "op_" + name, None)
            if method is not None:
                found = (True, method)
            else:
                method = getattr(LuaCore, "op_" + name, None)
                if method is None:
                    return False, errors.Error(errors.INVALID, f"unknown operation {name!r}")
                found = (False, method)
            _HANDLERS[key] = found
        on_world, handler = found
        try:
            return handler(world if on_world else self, task, *args)
        except errors.Error as err:
            return False, err
        except ChannelClosed as closed:
            return False, closed

    def direct(self, name: bytes, *args: Any) -> Any:
        """The prelude's ``host()``: an operation outside any coroutine (cannot block)."""
        if name == b"watchdog":  # every million instructions of a running Lua program
            return self.world.terminated()
        if name == b"pause":  # a slice's end reached through a coroutine resumed where nothing yields
            return ()
        completed = self._perform_now(name.decode(), args)
        state = self.state
        if completed is None:
            err = errors.Error(errors.INVALID, f"{name.decode()} would block outside a coroutine")
            return (state.RAISE, state.error_to_lua(err))
        return self._to_lua_outcome(completed)

    def immediate(self, name: bytes, *args: Any) -> Any:
        """The prelude's ``host_now()`` (process states): an operation from inside a task, done at once.

        The common operations (a send, a spawn, a receive from a channel that
        holds a message…) then cost one call from Lua instead of a yield to
        the scheduler and a resume.  The first value is a status for the
        prelude: ``GO`` and the results; ``PAUSE`` and the results when the
        slice's budget is spent (the task then yields, so the host's other
        processes get their turn, as if it had yielded every operation);
        ``RAISE`` and an error; ``BLOCK`` and the operation itself when it
        has to wait (or may wait on I/O): the task then yields it as usual.
        """
        # The hottest operations first, without the general dispatch.
        if name == b"send":
            values = self.world.send_now(*args)
        elif name == b"chan_recv":
            values = self._receive_now(*args)
        elif name == b"spawn":
            values = self.world.spawn_now(*args)
        elif name == b"pause":
            values = None
        else:
            op_name = name.decode()
            completed = None if self.world.waits_on_io(op_name, args) else self._perform_now(op_name, args)
            values = None if completed is None else self._to_lua_outcome(completed)
        if values is None:
            return self._block(name, args)
        state = self.state
        if values and values[0] is state.RAISE:
            return values
        return (state.PAUSE if self.scheduler.charge() else state.GO, *values)

    def _block(self, name: bytes, args: tuple[Any, ...]) -> tuple[Any, ...]:
        """``BLOCK`` and the operation, for the prelude to yield: its strings go back
        into Lua, so they are measured like any other push (a state at its cap)."""
        state = self.state
        try:
            return (state.BLOCK, name, *state.measured(state.to_lua_all, args))
        except errors.Error as refused:
            state.lift_cap()  # restored when the task next yields (LuaTask.send)
            return (state.RAISE, state.error_to_lua(refused))

    def _receive_now(self, handle: Any) -> tuple[Any, ...] | None:
        """``channel:receive()`` from inside a task: ``(value, ok)`` for Lua, or ``None`` to wait."""
        try:
            completed = self._channel_now("chan_recv", (handle,))
        except errors.Error as err:
            return self._to_lua_outcome((False, err))
        if completed is None:
            return None
        received = completed[1]
        kind = type(received[0])
        if received[0] is None or kind is int or kind is float or kind is bool:
            return received  # nothing to convert or measure
        return self._to_lua_outcome(completed)

    def lua_results(self, values: tuple[Any, ...]) -> tuple[Any, ...]:
        """An operation's results as Lua values (``RAISE`` and an error when they do not fit)."""
        return self._to_lua_outcome((True, values))

    def error_result(self, err: errors.Error) -> tuple[Any, ...]:
        """The Lua results ``nil, err`` (how an operation reports an expected failure)."""
        return self._to_lua_outcome((True, (None, err)))

    def _perform_now(self, op_name: str, args: tuple[Any, ...]) -> tuple[bool, Any] | None:
        """Perform an operation with no task to wake later: ``None`` when it would have to wait."""
        if op_name in ("chan_recv", "chan_send", "chan_select"):
            try:
                return self._channel_now(op_name, args)
            except errors.Error as err:
                return False, err
            except ChannelClosed as closed:
                return False, closed
        if op_name == "spawn_task":
            self.scheduler.spawn(LuaTask(self, launched=(args[0], None)))  # parked by the prelude
            return True, (True,)
        return self.dispatch(None, op_name, args)

    def _to_lua_outcome(self, completed: tuple[bool, Any]) -> tuple[Any, ...]:
        """Lua return values for an operation's outcome; ``(RAISE, error)`` for a failure."""
        state = self.state
        ok, value = completed
        if ok:
            try:  # the push lock is held already: this runs inside LuaTask.send or launch
                if type(value) is tuple:
                    return state.measured(state.to_lua_all, value)
                return (state.measured(state.to_lua, value),)
            except errors.Error as refused:
                value = refused
                state.lift_cap()  # restored when the task next yields (LuaTask.send)
        if isinstance(value, errors.Error):
            return (state.RAISE, state.error_to_lua(value))
        return (state.RAISE, str(value).encode())

    def _channel_now(self, name: str, args: tuple[Any, ...]) -> tuple[bool, Any] | None:
        """A channel operation that completes now, or ``None`` (as the scheduler's, without waiting)."""
        router = self.router
        if router.dirty:  # the scheduler flushes before every resume; this runs between two
            router.flush()
        if name == "chan_recv":
            received = _channel(args[0]).try_receive()
            return None if received is None else (True, received)
        if name == "chan_send":
            return (True, (True,)) if _channel(args[0]).try_send(args[1]) else None
        cases = _select_cases(args[0], args[1], args[2], args[3])
        ready = ready_case(cases)
        if ready is not None:
            index, item, ok = ready
            return True, (index + 1, item, ok)
        if args[4]:
            return True, (0, None, True)
        return None

    # -- operations that are the same in every driver ----------------------------------------

    def op_chan_new(self, task: Task | None, size: int) -> tuple[bool, Any]:
        return True, (Channel(int(size)),)

    def op_chan_close(self, task: Task | None, handle: Any) -> tuple[bool, Any]:
        _channel(handle).close()
        return True, ()

    def op_inbox(self, task: Task | None) -> tuple[bool, Any]:
        return True, (self.subscription(self.router.inbox()),)

    def op_events(self, task: Task | None) -> tuple[bool, Any]:
        return True, (self.subscription(self.router.events()),)

    def op_listen(self, task: Task | None, topic: Any, as_message: Any) -> tuple[bool, Any]:
        name = text(topic) if isinstance(topic, bytes) else topic
        try:
            channel = self.router.listen(name, messages=bool(as_message))
        except errors.Error as err:
            return True, (None, err)
        return True, (self.subscription(channel),)

    def op_unlisten(self, task: Task | None, handle: Any) -> tuple[bool, Any]:
        channel = _channel(handle)
        if self._subscriptions is not None:
            self._subscriptions.pop(id(channel), None)
        return True, (self.router.unlisten(channel),)

    def op_parse_duration(self, task: Task | None, value: Any) -> tuple[bool, Any]:
        return _value_or_error(stdlib.parse_duration, text(value))

    def op_format_duration(self, task: Task | None, ns: int) -> tuple[bool, Any]:
        return True, (stdlib.format_duration(int(ns)),)

    def op_format_time(self, task: Task | None, ns: int, layout: Any, zone: Any = b"") -> tuple[bool, Any]:
        return True, (gotime.format_layout(int(ns), text(zone), text(layout)),)

    def op_time_fields(self, task: Task | None, ns: int, zone: Any) -> tuple[bool, Any]:
        return True, gotime.fields(int(ns), text(zone))

    def op_time_date(self, task: Task | None, *values: Any) -> tuple[bool, Any]:
        *numbers, zone = values
        return _value_or_error(
            lambda: gotime.date(*(_integer(value, "time.date") for value in numbers), text(zone))
        )

    def op_time_add_date(
        self, task: Task | None, ns: int, zone: Any, years: Any, months: Any, days: Any
    ) -> tuple[bool, Any]:
        counts = (_integer(value, "Time:add_date") for value in (years, months, days))
        return True, (gotime.add_date(int(ns), text(zone), *counts),)  # raises INVALID out of range

    def op_time_round(self, task: Task | None, ns: int, step: int, nearest: Any) -> tuple[bool, Any]:
        return True, (gotime.round_to(int(ns), int(step), nearest=bool(nearest)),)

    def op_time_parse(self, task: Task | None, layout: Any, value: Any, zone: Any) -> tuple[bool, Any]:
        return _value_or_error(gotime.parse_layout, text(layout), text(value), text(zone), spread=True)

    def op_time_location(self, task: Task | None, name: Any) -> tuple[bool, Any]:
        return _value_or_error(gotime.load_location, text(name))

    def op_time_fixed_zone(self, task: Task | None, name: Any, offset: int) -> tuple[bool, Any]:
        return _value_or_error(gotime.fixed_zone, text(name), int(offset))

    def op_time_zone_name(self, task: Task | None, zone: Any) -> tuple[bool, Any]:
        return True, (gotime.zone_name(text(zone)),)

    def op_json_encode(self, task: Task | None, value: Any) -> tuple[bool, Any]:
        return _value_or_error(lambda: stdlib.json_encode(self.state.from_lua(value)))

    def op_json_decode(self, task: Task | None, value: Any) -> tuple[bool, Any]:
        return _value_or_error(stdlib.json_decode, text(value))

    def op_uuid_named(self, task: Task | None, version: int, namespace: Any, name: Any) -> tuple[bool, Any]:
        return _value_or_error(stdlib.uuid_named, int(version), text(namespace), text(name))

    def op_uuid_info(self, task: Task | None, what: Any, value: Any) -> tuple[bool, Any]:
        return _value_or_error(stdlib.uuid_info, text(what), text(value))

    def op_uuid_format(self, task: Task | None, value: Any, style: Any) -> tuple[bool, Any]:
        return _value_or_error(stdlib.uuid_format, text(value), text(style))

    # Outside a workflow the workflow module answers as the spec says.
    def op_wf_info(self, task: Task | None) -> tuple[bool, Any]:
        return True, (None, None)

    def op_wf_exec(self, task: Task | None, *args: Any) -> tuple[bool, Any]:
        return True, (None, errors.Error(errors.INVALID, "workflow.exec is only available inside a workflow"))

    def op_wf_version(self, task: Task | None, change_id: Any, low: int, high: int) -> tuple[bool, Any]:
        return True, (high,)

    def op_wf_attrs(self, task: Task | None, search: Any, memo: Any) -> tuple[bool, Any]:
        return True, (
            None,
            errors.Error(errors.INVALID, "workflow.attrs is only available inside a workflow"),
        )

    def op_wf_history(self, task: Task | None, what: Any) -> tuple[bool, Any]:
        return True, (0, None)
