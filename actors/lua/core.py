"""Every Lua operation, written once for both drivers: tasks, operations, results.

A Lua program's coroutines are :class:`LuaTask` objects in its
:class:`~actors.scheduling.Scheduler`.  When Lua code performs an operation,
the prelude yields ``(OP, name, args…)``; ``LuaTask`` turns channel
operations into the scheduler's own operations and everything else into
``(LUA_OP, name, args)`` for :class:`LuaCore`, which calls its handler
``op_<name>``.  Every operation is written once, here; what one does outside
the program (the clock, randomness, timers, sends, spawns, calls) it asks of
the driver's :class:`~actors.lua.effects.Effects`, the only part that
differs between a Lua process and a Lua workflow.

A handler returns ``(True, values)`` when done (a tuple of Lua return
values), ``(False, exc)`` to raise in Lua, or ``None`` when it will wake the
task later with :meth:`LuaCore.resume`.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable
from functools import partial
from typing import Any

from actors import errors
from actors._routing import Router
from actors._tasks import PAUSE, SPAWN, YIELD, Scheduler, Task
from actors.channel import RECV, SELECT, SEND, Channel, ChannelClosed, ready_case
from actors.lua import gotime, modules, stdlib
from actors.lua.effects import Effects
from actors.lua.runtime import LuaMemoryError, LuaState, LuaTime, Payload, lua_type, text
from actors.names import scope_name

__all__ = ["LUA_OP", "LuaCore", "LuaFailure", "LuaTask", "RunBudget", "lua_random", "option_problems"]

LUA_OP = "lua"  # (LUA_OP, name, args)

_HANDLERS: dict[str, Any] = {}
"""Operation name -> its ``LuaCore.op_<name>`` function, found once."""

_SCAN_FIRST = 256
"""Channel handles a program may have before the first look for handles Lua has dropped."""

_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warn": logging.WARNING, "error": logging.ERROR}

logger = logging.getLogger("actors.lua")


class RunBudget:
    """How long one round of a program's run loop may keep running Lua (a workflow's watchdog).

    Lua cannot be preempted: a loop that never waits would hold its thread
    forever.  The prelude's watchdog asks every million instructions; once
    the round has lasted ``seconds`` (wall clock, as Temporal's deadlock
    detector counts) :meth:`spent` says so, and the Lua code ends.
    """

    __slots__ = ("_deadline", "exceeded", "seconds")

    def __init__(self, seconds: float | None) -> None:
        self.seconds = seconds
        """``None``: no limit."""
        self._deadline: float | None = None
        self.exceeded = False

    def start(self) -> None:
        """A round begins: its clock starts."""
        self._deadline = None if self.seconds is None else time.monotonic() + self.seconds

    def stop(self) -> None:
        self._deadline = None

    def spent(self) -> bool:
        """True once the running round has outlasted the budget (and from then on)."""
        if not self.exceeded and self._deadline is not None and time.monotonic() > self._deadline:
            self.exceeded = True
        return self.exceeded


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
            if self._first is None:  # parked by coroutine.spawn: it outlives the spawner's coroutine
                (self.thread,) = core.state.anchored((self.thread,))
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
                return (RECV, self.core.channel(result[2]))
            if name == b"chan_send":
                self._pending = SEND
                value = result[3] if len(result) > 3 else None
                # A value a channel keeps may outlive this coroutine (see LuaState.anchored).
                (value,) = self.state.anchored((value,))
                return (SEND, self.core.channel(result[2]), value)
            if name == b"chan_select":
                self._pending = SELECT
                (values,) = self.state.anchored((result[4],))
                cases = self.core.select_cases(result[2], result[3], values, result[5])
                return (SELECT, cases, bool(result[6]))
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


def _final(err: errors.Error) -> errors.Error:
    """``err`` as a failure retrying cannot change (a pure computation's): ``retryable()`` false
    unless it says otherwise, as Wippy reports such errors."""
    if err.retryable() is not None:
        return err
    return errors.Error(err.kind(), err.message(), retryable=False, details=err.details())


def _value_or_error(
    compute: Callable[..., Any], *args: Any, spread: bool = False, final: bool = False
) -> tuple[bool, Any]:
    """``compute(*args)`` as the operation's value (its values with ``spread``), or
    ``nil, err`` when it fails as expected: the spec's way of reporting, never a raise.
    ``final``: a pure computation, whose failure is never retryable."""
    try:
        value = compute(*args)
    except errors.Error as err:
        return True, (None, _final(err) if final else err)
    return True, (value if spread else (value,))


def _done_or_error(action: Callable[..., Any], *args: Any) -> tuple[bool, Any]:
    """``true`` when ``action(*args)`` went through, ``nil, err`` when it failed as expected."""
    try:
        action(*args)
    except errors.Error as err:
        return True, (None, err)
    return True, (True,)


def _integer(value: Any, what: str) -> int:
    if type(value) is int:
        return value
    if type(value) is float and value.is_integer():
        return int(value)
    raise errors.Error(errors.INVALID, f"{what}: expected integers, got {value!r}")


class _Lua:
    """Lua values an effect takes, converted by ``LuaCore._effect`` where a failure is ``nil, err``."""

    __slots__ = ("args", "convert_with")

    def __init__(self, convert_with: Callable[..., Any], *args: Any) -> None:
        self.convert_with = convert_with
        self.args = args

    def convert(self) -> Any:
        return self.convert_with(*self.args)


class _Timer:
    """A ``time.timer``/``time.ticker`` of a program: its channel and the driver's timer."""

    __slots__ = ("channel", "handle", "repeat")

    def __init__(self, channel: Channel, repeat: bool) -> None:
        self.channel = channel
        self.repeat = repeat
        self.handle: Any = None
        """The effects' timer while it is going to fire; ``None`` once stopped or fired."""


class _Future:
    """A ``funcs.async`` call: its state, result and channel."""

    __slots__ = ("cancel", "channel", "error", "state", "value")

    def __init__(self, channel: Channel) -> None:
        self.channel = channel
        self.state = "pending"
        self.value: Any = None
        self.error: errors.Error | None = None
        self.cancel: Callable[[], None] | None = None


class LuaCore:
    """Performs a Lua program's operations; owns the program's Lua state.

    The same for a Lua process and a Lua workflow: ``effects`` is the driver's
    :class:`~actors.lua.effects.Effects`, what the operations do outside.
    """

    __slots__ = (
        "_channels",
        "_futures",
        "_live",
        "_next_handle",
        "_scan_at",
        "_subscriptions",
        "_timers",
        "code",
        "effects",
        "router",
        "scheduler",
        "state",
    )

    def __init__(self, state: LuaState, router: Router, scheduler: Scheduler, effects: Effects) -> None:
        self.state = state
        self.router = router
        self.scheduler = scheduler
        self.effects: Any = effects  # Any: the process fast paths (ImmediateEffects) are called too
        self.code: Any = None
        """The entry's :class:`~actors.lua.process.LuaCode` (set by :meth:`load` or :meth:`launch`)."""
        # Made on first use: most programs never subscribe, set timers or call asynchronously.
        self._subscriptions: dict[int, tuple[Any, Channel]] | None = None
        self._timers: dict[int, _Timer] | None = None
        self._futures: dict[int, _Future] | None = None
        self._channels: dict[int, Channel] | None = None
        """The program's channel handles (what Lua holds) → channels; see :meth:`wrap`."""
        self._live: Any = None
        self._next_handle = 0
        self._scan_at = _SCAN_FIRST

    # -- channels: Lua holds handles, never the Python objects ------------------------------

    def wrap(self, channel: Channel) -> Any:
        """A new Lua channel object for ``channel``: a handle of this program only.

        Lua never holds a Python object: lupa 2.8 with Lua 5.5 can hand Lua
        another Python object than the one pushed (lupa issue 294), which
        would give a process another's channel; and a handle means nothing to
        another program.  The handles of wrappers Lua has collected are
        forgotten now and then (the prelude lists live ones in a weak table).
        """
        channels = self._channels
        if channels is None:
            channels = self._channels = {}
            self._live = self.state.new_live()
        if len(channels) >= self._scan_at:
            alive = set(self.state.live_handles(self._live))
            for handle in [handle for handle in channels if handle not in alive]:
                del channels[handle]
            self._scan_at = max(_SCAN_FIRST, 2 * len(channels))
        self._next_handle += 1
        handle = self._next_handle
        channels[handle] = channel
        return self.state.wrap_channel(handle, self._live)

    def channel(self, handle: Any) -> Channel:
        """The channel behind a handle Lua passed (``INVALID`` for anything else)."""
        channels = self._channels
        channel = channels.get(handle) if channels is not None and type(handle) is int else None
        if channel is None:
            raise errors.Error(errors.INVALID, "expected a channel")
        return channel

    def lua_values(self) -> list[Any]:
        """The Lua values (tables, functions) this program's channels hold (what it reaches there)."""
        channels = self._channels or {}
        return [value for channel in channels.values() for value in channel.held() if lua_type(value)]

    def select_cases(
        self, handles: Any, sends: Any, values: Any, count: int
    ) -> list[tuple[Channel, bool, Any]]:
        cases = []
        for index in range(1, int(count) + 1):
            cases.append((self.channel(handles[index]), bool(sends[index]), values[index]))
        return cases

    def subscription(self, channel: Channel) -> Any:
        """The one Lua channel object of a subscription channel (inbox, events, a topic)."""
        if self._subscriptions is None:
            self._subscriptions = {}
        wrapper = self._subscriptions.get(id(channel))
        if wrapper is None:
            wrapper = self._subscriptions[id(channel)] = (self.wrap(channel), channel)
        return wrapper[0]

    # -- tasks and results ----------------------------------------------------------------

    def load(self, code: Any) -> Any:
        """The entry function of ``code`` in a new environment of this program's state."""
        self.code = code
        self.state.bind(self)
        return self.state.load_entry(code.source, code.chunkname, code.method, code.modules)

    def main_task(self, fn: Any, args: tuple[Any, ...]) -> LuaTask:
        state = self.state
        with state.push_lock:  # the coroutine is made with its arguments: they are pushed here
            return LuaTask(self, fn, state.measured(state.to_lua_all, args))

    def launch(self, code: Any, args: tuple[Any, ...]) -> LuaTask:
        """The main task of ``code``, already run to its first operation (one call into Lua)."""
        self.code = code
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
        try:
            result = state.result_from_lua(values[0]) if len(values) > 0 else None
        except errors.Error as refused:
            return None, refused
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

    def perform(self, task: Task, op: tuple[Any, ...]) -> tuple[bool, Any] | None:
        """The scheduler's driver operation for a Lua task: a ``LUA_OP``."""
        if op[0] == LUA_OP:
            return self.dispatch(task, op[1], op[2])
        return False, errors.Error(errors.INVALID, f"unknown operation {op[0]!r}")

    def dispatch(self, task: Task | None, name: str, args: tuple[Any, ...]) -> tuple[bool, Any] | None:
        handler = _HANDLERS.get(name)
        if handler is None:
            if "." in name:  # "<module>.<operation>": a plug-in module's
                return self._module_operation(task, name, args)
            handler = getattr(LuaCore, "op_" + name, None)
            if handler is None:
                return False, errors.Error(errors.INVALID, f"unknown operation {name!r}")
            _HANDLERS[name] = handler
        try:
            return handler(self, task, *args)
        except errors.Error as err:
            return False, err
        except ChannelClosed as closed:
            return False, closed

    def _module_operation(
        self, task: Task | None, name: str, args: tuple[Any, ...]
    ) -> tuple[bool, Any] | None:
        """An operation of a module registered with :func:`~actors.lua.modules.register_module`."""
        operation = modules.operation(name)
        if operation is None:
            return False, errors.Error(errors.INVALID, f"unknown operation {name!r}")
        if self.effects.in_workflow and not operation.module.in_workflows:
            return False, errors.Error(
                errors.INVALID, f"module {operation.module.name!r} is not available in workflows"
            )
        if operation.waits and task is None:
            return None  # yielded first: it may wait, so it needs its coroutine
        caller = modules.Caller(self, task)
        try:
            result = operation.handler(caller, *map(self.state.from_lua, args))
        except errors.Error as err:
            return True, (None, err)
        except Exception as exc:  # a bug in the handler: a Lua error, not a traceback
            logger.warning("Lua operation %s failed", name, exc_info=True)
            return False, errors.Error(errors.INTERNAL, f"{name}: {type(exc).__name__}: {exc}")
        if caller.suspended:
            return None
        return True, result if type(result) is tuple else (result,)

    def op_module_refused(self, task: Task | None, name: Any, allowed: Any) -> tuple[bool, Any]:
        """Why ``require(name)`` failed (the prelude asks only when it fails)."""
        return True, (modules.refusal(text(name), bool(allowed), bool(self.effects.in_workflow)),)

    def direct(self, name: bytes, *args: Any) -> Any:
        """The prelude's ``host()``: an operation outside any coroutine (cannot block)."""
        if name == b"watchdog":  # every million instructions of a running Lua program
            return self.effects.terminated()
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
            values = self.effects.send_now(*args)
        elif name == b"chan_recv":
            values = self._receive_now(*args)
        elif name == b"spawn":
            values = self.effects.spawn_now(*args)
        elif name == b"pause":
            values = None
        else:
            op_name = name.decode()
            completed = None if self.effects.waits_on_io(op_name, args) else self._perform_now(op_name, args)
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
                if op_name != "chan_recv":  # a value kept past the calling coroutine
                    args = self.state.anchored(args)
                return self._channel_now(op_name, args)
            except errors.Error as err:
                return False, err
            except ChannelClosed as closed:
                return False, closed
        if op_name == "spawn_task":
            try:  # parked by the prelude; LuaTask anchors it (it outlives the spawner's coroutine)
                task = LuaTask(self, launched=(args[0], None))
            except errors.Error as err:
                return False, err
            self.scheduler.spawn(task)
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
            received = self.channel(args[0]).try_receive()
            return None if received is None else (True, received)
        if name == "chan_send":  # its value anchored by _perform_now, the one caller for sends
            return (True, (True,)) if self.channel(args[0]).try_send(args[1]) else None
        cases = self.select_cases(args[0], args[1], args[2], args[3])
        ready = ready_case(cases)
        if ready is not None:
            index, item, ok = ready
            return True, (index + 1, item, ok)
        if args[4]:
            return True, (0, None, True)
        return None

    # -- helpers of the operations ----------------------------------------------------------

    def payloads(self, count: int, packed: tuple[Any, ...]) -> tuple[Any, ...]:
        """The ``count`` values Lua passed after the count (trailing nils included)."""
        values = tuple(map(self.state.from_lua, packed[: int(count)]))
        missing = int(count) - len(values)
        return values + (None,) * missing if missing > 0 else values

    def _table(self, value: Any) -> dict[str, Any]:
        """A Lua table argument (a spawner's or an executor's state) as a dict; ``{}`` for anything else."""
        data = self.state.from_lua(value) if value is not None else None
        return data if isinstance(data, dict) else {}

    def _effect(self, task: Task | None, effect: Callable[..., Any], *args: Any) -> tuple[bool, Any] | None:
        """An effect that may complete later: its values now, or ``None`` until it wakes ``task``.

        An argument may be a :class:`_Lua` (Lua values still to convert): converted
        here, so that a value that cannot leave Lua is ``nil, err`` like any failure.
        """
        try:
            converted = [arg.convert() if type(arg) is _Lua else arg for arg in args]
            values = effect(*converted, None if task is None else partial(self.resume, task))
        except errors.Error as err:
            return True, (None, err)
        return None if values is None else (True, values)

    # -- identity, options, context ---------------------------------------------------------

    def op_pid(self, task: Task | None) -> tuple[bool, Any]:
        return True, (self.effects.pid_text(),)

    def op_entry_id(self, task: Task | None) -> tuple[bool, Any]:
        return True, (self.code.entry_id,)

    def op_get_options(self, task: Task | None) -> tuple[bool, Any]:
        return True, ({"trap_links": self.effects.trap_links},)

    def op_set_options(self, task: Task | None, options: Any) -> tuple[bool, Any]:
        try:
            values = self.state.from_lua(options)
        except errors.Error as err:
            return True, (False, err)
        problem, trap = option_problems(values)
        if trap is not None:
            self.effects.trap_links = trap
        if problem is not None:
            return True, (False, problem)
        return True, (True,)

    def op_ctx_get(self, task: Task | None, key: Any) -> tuple[bool, Any]:
        name = text(key)
        context = self.effects.context or {}
        if name not in context:
            return True, (
                None,
                errors.Error(errors.NOT_FOUND, f"context key {name!r} not found", retryable=False),
            )
        return True, (context[name],)

    def op_ctx_all(self, task: Task | None) -> tuple[bool, Any]:
        return True, (dict(self.effects.context or {}),)

    # -- messages and signals ---------------------------------------------------------------

    def op_send(self, task: Task | None, dest: Any, topic: Any, count: int, *packed: Any) -> Any:
        payloads = _Lua(self.payloads, count, packed)
        return self._effect(task, self.effects.send, text(dest), text(topic), payloads)

    def op_terminate(self, task: Task | None, dest: Any) -> Any:
        return self._effect(task, self.effects.terminate, text(dest))

    def op_cancel(self, task: Task | None, dest: Any, deadline_ns: Any, reason: Any) -> Any:
        deadline = None if deadline_ns is None else deadline_ns / 1e9
        return self._effect(task, self.effects.cancel, text(dest), deadline, text(reason))

    def op_monitor(self, task: Task | None, dest: Any) -> tuple[bool, Any]:
        return _done_or_error(self.effects.monitor, text(dest))

    def op_unmonitor(self, task: Task | None, dest: Any) -> tuple[bool, Any]:
        return _done_or_error(self.effects.unmonitor, text(dest))

    def op_link(self, task: Task | None, dest: Any) -> tuple[bool, Any]:
        return _done_or_error(self.effects.link, text(dest))

    def op_unlink(self, task: Task | None, dest: Any) -> tuple[bool, Any]:
        return _done_or_error(self.effects.unlink, text(dest))

    def op_register(self, task: Task | None, name: Any, pid: Any = None, scope: Any = None) -> Any:
        """``true`` or ``nil, err``; a cluster scope waits for the cluster (yielded, never in ``host_now``)."""
        try:
            scope_text = scope_name(scope)
        except errors.Error as err:
            return True, (None, err)
        pid_text = None if pid is None else text(pid)
        return self._effect(task, self.effects.register, text(name), pid_text, scope_text)

    def op_lookup(self, task: Task | None, name: Any) -> tuple[bool, Any]:
        return _value_or_error(self.effects.lookup, text(name))

    def op_unregister(self, task: Task | None, name: Any, scope: Any = None) -> Any:
        """A plain boolean (``nil, err`` only for a bad scope or a cluster that did not answer)."""
        try:
            scope_text = scope_name(scope)
        except errors.Error as err:
            return True, (None, err)
        return self._effect(task, self.effects.unregister, text(name), scope_text)

    # -- spawns and calls -------------------------------------------------------------------

    def op_spawn(
        self, task: Task | None, entry_id: Any, host_id: Any, spec: Any, count: int, *packed: Any
    ) -> Any:
        spec_data = None if spec is None else _Lua(self._table, spec)
        payloads = _Lua(self.payloads, count, packed)
        return self._effect(task, self.effects.spawn, text(entry_id), text(host_id), spec_data, payloads)

    def op_exec(
        self, task: Task | None, entry_id: Any, host_id: Any, spec: Any, count: int, *packed: Any
    ) -> Any:
        if task is None:
            return None
        spec_data, payloads = _Lua(self._table, spec), _Lua(self.payloads, count, packed)
        return self._effect(task, self.effects.exec, text(entry_id), text(host_id), spec_data, payloads)

    def op_upgrade(
        self, task: Task | None, entry_id: Any, count: int, *packed: Any
    ) -> tuple[bool, Any] | None:
        """``process.upgrade``: the program goes on in new code; the calling task never resumes."""
        if task is None:
            return None  # from inside a Lua call (host_now): yielded first, code is switched outside Lua
        if entry_id is not None and type(entry_id) is not bytes:  # text() would run a table's __tostring
            return False, errors.Error(
                errors.INVALID, "process.upgrade: the entry ID must be a string or nil"
            )
        try:
            self.effects.upgrade(None if entry_id is None else text(entry_id), self.payloads(count, packed))
        except errors.Error as err:
            return False, err  # a failed upgrade crashes the program (spec)
        return None

    def op_call(self, task: Task | None, target: Any, executor: Any, count: int, *packed: Any) -> Any:
        if task is None:
            return None
        try:
            self.effects.call(
                text(target), self._table(executor), self.payloads(count, packed), partial(self.resume, task)
            )
        except errors.Error as err:
            return True, (None, err)
        return None

    def op_call_async(self, task: Task | None, target: Any, executor: Any, count: int, *packed: Any) -> Any:
        record = _Future(Channel(1, external=True))

        def settle(value: Any, error: Any) -> None:
            if record.state != "pending":
                return  # canceled meanwhile
            record.state, record.value, record.error = "complete", value, error
            # The channel gets the result either way, as in Wippy: a Payload, or the error
            # object (received with ok = true); then it closes.
            record.channel.offer(Payload(value) if error is None else error)
            record.channel.close()

        try:
            record.cancel = self.effects.call(
                text(target), self._table(executor), self.payloads(count, packed), settle
            )
        except errors.Error as err:
            return True, (None, err)
        if self._futures is None:
            self._futures = {}
        future_id = len(self._futures) + 1
        self._futures[future_id] = record
        return True, (future_id, record.channel)

    def _future(self, future_id: Any) -> _Future | None:
        return (self._futures or {}).get(int(future_id))

    def op_future_state(self, task: Task | None, future_id: Any) -> tuple[bool, Any]:
        record = self._future(future_id)
        return True, (record.state if record else "canceled",)

    def op_future_result(self, task: Task | None, future_id: Any) -> tuple[bool, Any]:
        record = self._future(future_id)
        if record is None:
            return True, ("canceled", None, None)
        return True, (record.state, record.value, record.error)

    def op_future_cancel(self, task: Task | None, future_id: Any) -> tuple[bool, Any]:
        record = self._future(future_id)
        if record is None or record.state != "pending":
            return True, (False, errors.Error(errors.INVALID, "future is not pending"))
        if record.cancel is not None:
            record.cancel()
        record.state, record.error = "canceled", errors.Error(errors.CANCELED, "future canceled")
        record.channel.close()
        return True, (True,)

    # -- time ---------------------------------------------------------------------------------

    def op_now(self, task: Task | None) -> tuple[bool, Any]:
        return True, (self.effects.now_ns(),)

    def op_sleep(self, task: Task | None, ns: Any) -> tuple[bool, Any] | None:
        if ns <= 0:
            return True, ()
        if task is None:
            return None
        self.effects.start_timer(ns / 1e9, partial(self.resume, task), False)
        return None

    def op_after(self, task: Task | None, ns: Any) -> tuple[bool, Any]:
        channel = Channel(1, external=True)
        effects = self.effects

        def deliver() -> None:  # one Time, then closed
            channel.offer(LuaTime(effects.now_ns()))
            channel.close()

        effects.start_timer(ns / 1e9, deliver, False)
        return True, (channel,)

    def op_timer(self, task: Task | None, ns: Any, repeat: Any) -> tuple[bool, Any]:
        if self._timers is None:
            self._timers = {}
        timer_id = len(self._timers) + 1
        record = _Timer(Channel(16 if repeat else 1, external=True), bool(repeat))
        self._timers[timer_id] = record
        self._arm(record, ns / 1e9)
        return True, (timer_id, record.channel)

    def _arm(self, record: _Timer, seconds: float) -> None:
        effects = self.effects

        def fire() -> bool:
            # A slow reader loses ticks, as the spec says; False tells a ticker nobody took them.
            taken = record.channel.offer(LuaTime(effects.now_ns()))
            if not record.repeat:
                record.handle = None
            return taken

        record.handle = effects.start_timer(seconds, fire, record.repeat)
        # limits: a ticker paused on a full channel ticks on once the reader takes a tick.
        record.channel.on_take = getattr(record.handle, "resume", None)

    def op_timer_stop(self, task: Task | None, timer_id: Any) -> tuple[bool, Any]:
        record = (self._timers or {}).get(int(timer_id))
        if record is None or record.handle is None:
            return True, (False,)
        handle, record.handle = record.handle, None
        return True, (self.effects.stop_timer(handle),)

    def op_timer_reset(self, task: Task | None, timer_id: Any, ns: Any) -> tuple[bool, Any]:
        """Go's Reset: a timer fires once after ``ns``, a ticker ticks every ``ns`` from now on."""
        record = (self._timers or {}).get(int(timer_id))
        if record is None:
            return True, (False,)
        handle, record.handle = record.handle, None
        was_active = handle is not None and self.effects.stop_timer(handle)
        self._arm(record, ns / 1e9)
        return True, (was_active,)

    def op_parse_duration(self, task: Task | None, value: Any) -> tuple[bool, Any]:
        return _value_or_error(stdlib.parse_duration, text(value), final=True)

    def op_format_duration(self, task: Task | None, ns: int) -> tuple[bool, Any]:
        return True, (stdlib.format_duration(int(ns)),)

    def zone(self, value: Any) -> str:
        """A Time's zone id from Lua.  A workflow's ``"Local"`` is UTC, as its ``time.localtz``
        is: a replay on a machine in another zone must see the same wall clock."""
        zone = text(value)
        return "" if zone == "Local" and self.effects.in_workflow else zone

    def op_format_time(self, task: Task | None, ns: int, layout: Any, zone: Any = b"") -> tuple[bool, Any]:
        return True, (gotime.format_layout(int(ns), self.zone(zone), text(layout)),)

    def op_time_fields(self, task: Task | None, ns: int, zone: Any) -> tuple[bool, Any]:
        return True, gotime.fields(int(ns), self.zone(zone))

    def op_time_date(self, task: Task | None, *values: Any) -> tuple[bool, Any]:
        *numbers, zone = values
        return _value_or_error(
            lambda: gotime.date(*(_integer(value, "time.date") for value in numbers), self.zone(zone)),
            final=True,
        )

    def op_time_add_date(
        self, task: Task | None, ns: int, zone: Any, years: Any, months: Any, days: Any
    ) -> tuple[bool, Any]:
        counts = (_integer(value, "Time:add_date") for value in (years, months, days))
        try:
            return True, (gotime.add_date(int(ns), self.zone(zone), *counts),)
        except errors.Error as err:  # out of range: raised, as Time:add raises
            return False, _final(err)

    def op_time_round(self, task: Task | None, ns: int, step: int, nearest: Any) -> tuple[bool, Any]:
        return True, (gotime.round_to(int(ns), int(step), nearest=bool(nearest)),)

    def op_time_parse(self, task: Task | None, layout: Any, value: Any, zone: Any) -> tuple[bool, Any]:
        return _value_or_error(
            gotime.parse_layout, text(layout), text(value), self.zone(zone), spread=True, final=True
        )

    def op_time_location(self, task: Task | None, name: Any) -> tuple[bool, Any]:
        return _value_or_error(lambda: self.zone(gotime.load_location(text(name))), final=True)

    def op_time_fixed_zone(self, task: Task | None, name: Any, offset: int) -> tuple[bool, Any]:
        return _value_or_error(gotime.fixed_zone, text(name), int(offset), final=True)

    def op_time_zone_name(self, task: Task | None, zone: Any) -> tuple[bool, Any]:
        return True, (gotime.zone_name(self.zone(zone)),)

    # -- channels and subscriptions ---------------------------------------------------------

    def op_chan_new(self, task: Task | None, size: int) -> tuple[bool, Any]:
        return True, (Channel(int(size)),)

    def op_chan_close(self, task: Task | None, handle: Any) -> tuple[bool, Any]:
        self.channel(handle).close()
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
        channel = self.channel(handle)
        if self._subscriptions is not None:
            self._subscriptions.pop(id(channel), None)
        return True, (self.router.unlisten(channel),)

    # -- randomness, logs ----------------------------------------------------------

    def op_random(self, task: Task | None, low: Any = None, high: Any = None) -> tuple[bool, Any]:
        return True, (lua_random(self.effects.uniform, low, high),)

    def op_log(self, task: Task | None, level: Any, name: Any, message: Any, fields: Any) -> tuple[bool, Any]:
        try:
            values = self.state.from_lua(fields)
        except errors.Error as err:  # the line is still written, saying why its fields are not
            values = {"fields": err.message()}
        values = values if isinstance(values, dict) else {}
        shown = " ".join(
            f"{_field_text(key)}={_field_text(value)}"
            for key, value in sorted(values.items(), key=lambda kv: str(kv[0]))
        )
        entry_id = self.code.entry_id
        extra = {"pid": self.effects.pid_text(), "entry": entry_id, "fields": values}
        self.effects.logger(entry_id, text(name)).log(
            _LEVELS.get(text(level), logging.INFO),
            "%s%s",
            text(message),
            f" {shown}" if shown else "",
            extra=extra,
        )
        return True, ()

    # -- the workflow module (outside a workflow it answers as the spec says) ---------------

    def op_wf_info(self, task: Task | None) -> tuple[bool, Any]:
        if not self.effects.in_workflow:
            return True, (None, None)
        return True, (self.effects.workflow_info(), None)

    def op_wf_exec(self, task: Task | None, entry_id: Any, count: int, *packed: Any) -> Any:
        if not self.effects.in_workflow:
            return True, (
                None,
                errors.Error(errors.INVALID, "workflow.exec is only available inside a workflow"),
            )
        if task is None:
            return None
        payloads = _Lua(self.payloads, count, packed)
        return self._effect(task, self.effects.exec, text(entry_id), None, {}, payloads)

    def op_wf_version(self, task: Task | None, change_id: Any, low: int, high: int) -> tuple[bool, Any]:
        if not self.effects.in_workflow:
            return True, (high,)
        return True, (self.effects.workflow_version(text(change_id), int(low), int(high)),)

    def op_wf_attrs(self, task: Task | None, search: Any, memo: Any) -> tuple[bool, Any]:
        if not self.effects.in_workflow:
            return True, (
                None,
                errors.Error(errors.INVALID, "workflow.attrs is only available inside a workflow"),
            )
        from_lua = self.state.from_lua
        return _done_or_error(
            lambda: self.effects.workflow_attrs(
                None if search is None else from_lua(search), None if memo is None else from_lua(memo)
            )
        )

    def op_wf_history(self, task: Task | None, what: Any) -> tuple[bool, Any]:
        if not self.effects.in_workflow:
            return True, (0, None)
        return True, (self.effects.workflow_history(text(what)), None)


def _field_text(value: Any) -> str:
    """A logger field as a log line shows it: tables as JSON, text as it is unless it has a
    space, a quote, an ``=`` or a control character, then quoted as JSON (logfmt's rule), so a
    value cannot forge another field or another line."""
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=_json_fallback)
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    text_value = str(value)
    if text_value == "" or _NEEDS_QUOTES.search(text_value):
        return json.dumps(text_value, ensure_ascii=False)
    return text_value


_NEEDS_QUOTES = re.compile(r'[\s"=\x00-\x1f\x7f]')


def _json_fallback(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def option_problems(values: Any) -> tuple[errors.Error | None, bool | None]:
    """Check ``process.set_options`` input: ``(error or None, new trap_links or None)``.

    Valid keys are applied even when another key is wrong, as the runtime does.
    """
    if not isinstance(values, dict):
        return errors.Error(errors.INVALID, "process.set_options: expected a table"), None
    problem: errors.Error | None = None
    trap: bool | None = None
    for key, value in values.items():
        if key == "trap_links":
            if isinstance(value, bool):
                trap = value
            else:
                problem = errors.Error(errors.INVALID, "trap_links must be a boolean")
        else:
            problem = errors.Error(errors.INVALID, f"option {key} is not supported")
    return problem, trap


def lua_random(uniform: Callable[[], float], low: Any, high: Any) -> float | int:
    """Lua's ``math.random`` contract on top of a uniform [0, 1) source.

    ``math.random(0)`` is an integer with all 64 bits random (Lua 5.4), made
    of four 16-bit draws so that a workflow's recorded source serves it too.
    """
    if low is None:
        return uniform()
    if high is None and low == 0:
        bits = 0
        for _ in range(4):
            bits = (bits << 16) | int(uniform() * 65536)
        return bits - (1 << 64) if bits >= 1 << 63 else bits
    if high is None:
        low, high = 1, low
    low, high = int(low), int(high)
    if low > high:
        raise errors.Error(errors.INVALID, "math.random: interval is empty")
    return low + int(uniform() * (high - low + 1))
