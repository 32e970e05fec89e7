"""The process driver for Lua: a ``process.lua`` entry running on a host.

``LuaProcess`` is a coroutine process whose tasks are Lua coroutines.  It
performs the prelude's operations for real: messages go through the node,
timers through the node's timer thread, ``funcs.call`` runs a ``function.lua``
entry as its own process (or a Python function on a thread pool) and wakes the
caller when the result is in.  Everything that wakes a task comes back as a
signal in this process's own mailbox, so it is ordered with the rest.
"""

from __future__ import annotations

import logging
import os
import random
import threading
import time
import uuid as uuid_module
from dataclasses import dataclass, field
from typing import Any

from actors import _ops, codec, errors
from actors._driver import CoroutineDriver
from actors._process import CALL, Process
from actors._tasks import Task
from actors._timers import Timer
from actors.channel import Channel
from actors.lua import stdlib
from actors.lua.core import LUA_OP, LuaCore
from actors.lua.pool import StatePool
from actors.lua.runtime import DEFAULT_MEMORY_LIMIT, LuaState, LuaTime, Payload, text, text_or_bytes
from actors.pid import PID, is_pid_text
from actors.seam import SpawnRequest, StartMessage

__all__ = ["LuaCode", "LuaProcess", "process_factory"]

logger = logging.getLogger("actors.lua")

_SUPPORTED_OPTIONS = ("trap_links",)

_SENT = (True,)
_PID_TEXTS: dict[bytes, PID] = {}
"""Destinations Lua named by PID text, parsed (Lua sends to the same few PIDs again and again)."""

_ADDRESSED = frozenset(("send", "terminate", "cancel", "monitor", "unmonitor", "link", "unlink"))
"""Operations whose first argument is the destination process."""


@dataclass(frozen=True)
class LuaCode:
    """The code of a Lua entry: what to load and which modules it may require."""

    entry_id: str
    source: str
    chunkname: str
    method: str = "main"
    modules: tuple[str, ...] = ()
    memory_limit: int | None = None
    """A cap of its own (a dedicated Lua state); ``None``: share the pool's states."""
    meta: dict[str, Any] = field(default_factory=dict)


class _LuaTimer:
    __slots__ = ("channel", "period", "timer")

    def __init__(self, channel: Channel, period: float | None) -> None:
        self.channel = channel
        self.period = period
        self.timer: Timer | None = None


class LuaProcess(CoroutineDriver):
    """Runs a Lua entry's function as the main task of a process."""

    __slots__ = ("_futures", "_lua_timers", "_state", "args", "code", "core", "pool")

    def __init__(self, code: LuaCode, request: SpawnRequest, pool: StatePool | None = None) -> None:
        super().__init__()
        self.code = code
        self.pool = pool
        self._state: LuaState | None = None
        self.args = request.args
        self.core: LuaCore | None = None
        # Made on first use: most processes never use timers or futures.
        self._lua_timers: dict[int, _LuaTimer] | None = None
        self._futures: dict[int, dict[str, Any]] | None = None

    # -- CoroutineDriver ----------------------------------------------------------------------

    def started(self, process: Process) -> None:
        self.process = process
        main = self.create_main(process)
        scheduler = self.scheduler
        if not scheduler.tasks:  # a coroutine.spawn task still gets its first step otherwise
            ended = main.ended_at_launch()
            if ended is not None:  # a short program (a function.lua call, a worker) ends here
                scheduler.end_main(*ended)
                return
        scheduler.spawn(main, main=True)

    def create_main(self, process: Process) -> Any:
        code = self.code
        if code.memory_limit is not None or self.pool is None:
            state = LuaState(max_memory=code.memory_limit or DEFAULT_MEMORY_LIMIT)
        else:
            state = self.pool.acquire()
        self._state = state
        self.core = LuaCore(state, self.router, self.scheduler, world=self)
        return self.core.launch(code, self.args)

    def perform_other(self, task: Task, op: tuple[Any, ...]) -> tuple[bool, Any] | None:
        if op[0] == LUA_OP and self.core is not None:
            return self.core.dispatch(task, op[1], op[2])
        return super().perform_other(task, op)

    def result_of(self, ok: bool, value: Any) -> tuple[Any, errors.Error | None]:
        if self.core is None:
            return super().result_of(ok, value)
        return self.core.result_of(ok, value)

    def stopped(self, process: Process) -> None:
        if self._lua_timers:
            for entry in self._lua_timers.values():
                if entry.timer is not None:
                    entry.timer.cancel()
            self._lua_timers = None
        super().stopped(process)
        self.core = None  # the core refers back to this driver
        state, self._state = self._state, None
        if state is None:
            return
        if self.pool is not None and state.users:
            failure = process.result[1] if process.result is not None else None
            ran_out = failure is not None and failure.kind() == errors.LIMIT_EXCEEDED
            self.pool.release(state, collect=ran_out)
        else:
            state.close()

    # -- helpers ---------------------------------------------------------------------------------

    @property
    def _process(self) -> Process:
        assert self.process is not None
        return self.process

    def _lua(self, value: Any) -> Any:
        assert self.core is not None
        return self.core.state.from_lua(value)

    def _payloads(self, count: int, packed: tuple[Any, ...]) -> tuple[Any, ...]:
        """The ``count`` values Lua passed after the count (trailing nils included)."""
        assert self.core is not None
        values = tuple(map(self.core.state.from_lua, packed[: int(count)]))
        missing = int(count) - len(values)
        return values + (None,) * missing if missing > 0 else values

    def _wake_later(self, task: Task, *values: Any) -> None:
        """Wake ``task`` from another thread: through this process's mailbox."""
        core = self.core

        def wake(_process: Process) -> None:
            if core is not None:
                core.resume(task, *values)

        self._process.deliver((CALL, wake))

    # -- identity and messages -----------------------------------------------------------------

    def terminated(self) -> bool:
        """Asked by the Lua watchdog: was this process terminated while its Lua code runs?"""
        process = self.process
        return process is not None and process._kill

    def waits_on_io(self, name: str, args: tuple[Any, ...]) -> bool:
        """True when operation ``name`` would wait on I/O (a workflow's signal, a Temporal start).

        Such operations are yielded to the scheduler even when they could be
        done at once: done inside the Lua state, they would hold up every
        process that shares it for a round trip.
        """
        if name in _ADDRESSED:
            node = self._process.node
            try:
                return not node.in_memory(node.resolve(text(args[0])))
            except errors.Error:
                return False  # the operation itself reports the bad destination
        if name == "spawn":
            return not self._process.node.in_memory(host_id=text(args[1]))
        return False

    def op_pid(self, task: Task | None) -> tuple[bool, Any]:
        return True, (str(self._process.pid),)

    def op_entry_id(self, task: Task | None) -> tuple[bool, Any]:
        return True, (self.code.entry_id,)

    def send_now(self, dest: Any, topic: Any, count: int, *packed: Any) -> tuple[Any, ...] | None:
        """``process.send`` from inside a task: its Lua results, or ``None`` to yield it instead.

        The hottest operation of a Lua program, so ``LuaCore.immediate``
        calls it directly: a PID's text is parsed once, a single plain
        payload skips the general conversion.
        """
        process = self._process
        node = process.node
        try:
            pid = _PID_TEXTS.get(dest)
            if pid is None:
                name = text(dest)
                pid = node.resolve(name)
                if is_pid_text(name):  # a registered name may move to another process; a PID's text never
                    if len(_PID_TEXTS) >= 4096:
                        _PID_TEXTS.clear()
                    _PID_TEXTS[dest] = pid
            if not node.in_memory(pid):
                return None
            if count == 1 and len(packed) == 1:
                value = packed[0]
                kind = type(value)
                if kind is bytes:
                    value = text_or_bytes(value)
                elif not (kind is int or kind is float or kind is bool):
                    value = self._lua(value)
                node.send(pid, text(topic), value)
            else:
                node.send(pid, text(topic), *self._payloads(count, packed))
        except errors.Error as err:
            assert self.core is not None
            return self.core.error_result(err)
        return _SENT

    def op_send(self, task: Task | None, dest: Any, topic: Any, count: int, *packed: Any) -> tuple[bool, Any]:
        try:
            self._process.node.send(text(dest), text(topic), *self._payloads(count, packed))
        except errors.Error as err:
            return True, (None, err)
        return True, (True,)

    # -- spawning ---------------------------------------------------------------------------------

    def _spawn_request(self, entry_id: Any, spec: Any, count: int, packed: tuple[Any, ...]) -> SpawnRequest:
        process = self._process
        if spec is None:  # a plain process.spawn: the child inherits the context as it is
            return SpawnRequest(
                text(entry_id), self._payloads(count, packed), process.pid, context=process.context or None
            )
        spec_data = self._lua(spec) or {}
        if not isinstance(spec_data, dict):
            spec_data = {}
        context = dict(process.context or {})
        context.update(spec_data.get("context") or {})
        messages = tuple(
            StartMessage(
                message["topic"],
                tuple(codec.encode(value) for value in _unpack_values(message)),
            )
            for message in spec_data.get("messages") or []
        )
        return SpawnRequest(
            text(entry_id),
            self._payloads(count, packed),
            process.pid,
            bool(spec_data.get("link")),
            bool(spec_data.get("monitor")),
            spec_data.get("name"),
            context or None,
            spec_data.get("options") or None,
            messages,
        )

    def spawn_now(
        self, entry_id: Any, host_id: Any, spec: Any, count: int, *packed: Any
    ) -> tuple[Any, ...] | None:
        """``process.spawn`` from inside a task (``LuaCore.immediate``): ``None`` to yield it
        when the host starts processes through I/O (a workflow host)."""
        node = self._process.node
        host = text(host_id)
        if not node.in_memory(host_id=host):
            return None
        try:
            request = self._spawn_request(entry_id, spec, count, packed)
            pid = node.spawn_request(request, host, self._process)
        except errors.Error as err:
            assert self.core is not None
            return self.core.error_result(err)
        assert self.core is not None
        return self.core.lua_results((str(pid),))

    def op_spawn(
        self, task: Task | None, entry_id: Any, host_id: Any, spec: Any, count: int, *packed: Any
    ) -> tuple[bool, Any]:
        try:
            request = self._spawn_request(entry_id, spec, count, packed)
            pid = self._process.node.spawn_request(request, text(host_id), self._process)
        except errors.Error as err:
            return True, (None, err)
        return True, (str(pid),)

    def op_exec(
        self, task: Task | None, entry_id: Any, host_id: Any, spec: Any, count: int, *packed: Any
    ) -> tuple[bool, Any] | None:
        if task is None:
            return None
        node = self._process.node
        try:
            request = self._spawn_request(entry_id, spec, count, packed)
            request.link = request.monitor = False
            request.parent = None
            request.on_exit = lambda value, error: self._wake_later(task, value, error)
            node.spawn_request(request, text(host_id))
        except errors.Error as err:
            return True, (None, err)
        return None

    def op_upgrade(self, task: Task | None, *args: Any) -> tuple[bool, Any]:
        return False, errors.Error(errors.INVALID, "process.upgrade is not supported on actorflow yet")

    # -- signals to others -------------------------------------------------------------------------

    def op_terminate(self, task: Task | None, dest: Any) -> tuple[bool, Any]:
        try:
            self._process.node.terminate(text(dest))
        except errors.Error as err:
            return True, (None, err)
        return True, (True,)

    def op_cancel(self, task: Task | None, dest: Any, deadline_ns: Any, reason: Any) -> tuple[bool, Any]:
        deadline = None if deadline_ns is None else deadline_ns / 1e9
        try:
            self._process.node.cancel(text(dest), deadline, text(reason))
        except errors.Error as err:
            return True, (None, err)
        return True, (True,)

    def _relation(self, action: Any, dest: Any) -> tuple[bool, Any]:
        try:
            action(self._process, text(dest))
        except errors.Error as err:
            return True, (None, err)
        return True, (True,)

    def op_monitor(self, task: Task | None, dest: Any) -> tuple[bool, Any]:
        return self._relation(_ops.monitor, dest)

    def op_unmonitor(self, task: Task | None, dest: Any) -> tuple[bool, Any]:
        return self._relation(_ops.unmonitor, dest)

    def op_link(self, task: Task | None, dest: Any) -> tuple[bool, Any]:
        return self._relation(_ops.link, dest)

    def op_unlink(self, task: Task | None, dest: Any) -> tuple[bool, Any]:
        return self._relation(_ops.unlink, dest)

    def op_get_options(self, task: Task | None) -> tuple[bool, Any]:
        return True, ({"trap_links": self._process.trap_links},)

    def op_set_options(self, task: Task | None, options: Any) -> tuple[bool, Any]:
        problem, trap = process_option_problems(self._lua(options))
        if trap is not None:
            self._process.trap_links = trap
        if problem is not None:
            return True, (False, problem)
        return True, (True,)

    # -- names ---------------------------------------------------------------------------------------

    def op_register(self, task: Task | None, name: Any, pid: Any = None) -> tuple[bool, Any]:
        try:
            self._process.node.register(text(name), text(pid) if pid is not None else self._process.pid)
        except errors.Error as err:
            return True, (None, err)
        return True, (True,)

    def op_lookup(self, task: Task | None, name: Any) -> tuple[bool, Any]:
        try:
            return True, (str(self._process.node.lookup(text(name))),)
        except errors.Error as err:
            return True, (None, err)

    def op_unregister(self, task: Task | None, name: Any) -> tuple[bool, Any]:
        return True, (self._process.node.unregister(text(name)),)

    # -- time ------------------------------------------------------------------------------------------

    def op_now(self, task: Task | None) -> tuple[bool, Any]:
        return True, (time.time_ns(),)

    def op_sleep(self, task: Task | None, ns: Any) -> tuple[bool, Any] | None:
        if ns <= 0:
            return True, ()
        if task is None:
            return None
        core = self.core
        assert core is not None
        self.call_later(ns / 1e9, lambda: core.resume(task))
        return None

    def op_after(self, task: Task | None, ns: Any) -> tuple[bool, Any]:
        return True, (self.after(ns / 1e9, lambda: LuaTime(time.time_ns())),)  # one Time, then closed

    def op_timer(self, task: Task | None, ns: Any, repeat: Any) -> tuple[bool, Any]:
        if self._lua_timers is None:
            self._lua_timers = {}
        timer_id = len(self._lua_timers) + 1
        period = ns / 1e9
        entry = _LuaTimer(Channel(16 if repeat else 1, external=True), period if repeat else None)
        self._lua_timers[timer_id] = entry
        self._arm(timer_id, entry, period)
        return True, (timer_id, entry.channel)

    def _arm(self, timer_id: int, entry: _LuaTimer, seconds: float) -> None:
        def fire() -> None:
            entry.channel.offer(LuaTime(time.time_ns()))  # a slow reader loses ticks, as the spec says
            if entry.period is not None:
                self._arm(timer_id, entry, entry.period)
            else:
                entry.timer = None

        entry.timer = self.call_later(seconds, fire)

    def op_timer_stop(self, task: Task | None, timer_id: Any) -> tuple[bool, Any]:
        entry = (self._lua_timers or {}).get(int(timer_id))
        if entry is None or entry.timer is None:
            return True, (False,)
        stopped = self.cancel_timer(entry.timer)
        entry.timer = None
        return True, (stopped,)

    def op_timer_reset(self, task: Task | None, timer_id: Any, ns: Any) -> tuple[bool, Any]:
        entry = (self._lua_timers or {}).get(int(timer_id))
        if entry is None:
            return True, (False,)
        was_active = entry.timer is not None and self.cancel_timer(entry.timer)
        self._arm(int(timer_id), entry, ns / 1e9)
        return True, (was_active,)

    # -- functions ------------------------------------------------------------------------------------

    def _call_context(self, executor: Any) -> tuple[dict[str, Any], dict[str, Any]]:
        state = self._lua(executor) or {}
        if not isinstance(state, dict):
            state = {}
        context = dict(self._process.context or {})
        context.update(state.get("context") or {})
        return context, state.get("options") or {}

    def _start_call(self, target: str, executor: Any, count: int, packed: tuple[Any, ...], done: Any) -> None:
        """Start ``target`` and arrange ``done(value, error)`` (on any thread)."""
        process = self._process
        node = process.node
        context, options = self._call_context(executor)
        args = self._payloads(count, packed)
        function = node.functions.get(target)
        if function is not None:
            node.run_function(target, function, args, context, done)
            return
        entry = node.kinds.entries.get(target) if node.kinds.entries is not None else None
        if entry is None:
            raise errors.Error(errors.NOT_FOUND, f"function {target!r} not found")
        if entry.kind != "function.lua":
            raise errors.Error(errors.INVALID, f"{target!r} is a {entry.kind}, not a function.lua entry")
        timers: list[Timer] = []
        ended: list[bool] = []

        def finished(value: Any, error: Any) -> None:
            ended.append(True)
            for timer in timers:
                timer.cancel()
            done(value, error)

        request = SpawnRequest(target, args, context=context or None, on_exit=finished)
        pid = node.spawn_request(request, process.host.id)
        timeout = options.get("timeout")
        if timeout and not ended:

            def expire() -> None:
                done(None, errors.Error(errors.TIMEOUT, f"{target} timed out after {timeout} ms"))
                try:
                    node.terminate(pid)
                except errors.Error:
                    pass  # it finished meanwhile

            timers.append(node.timers.call_later(float(timeout) / 1000.0, expire))
            if ended:
                timers[0].cancel()

    def op_call(self, task: Task | None, target: Any, executor: Any, count: int, *packed: Any) -> Any:
        if task is None:
            return None
        answered = threading.Lock()

        def done(value: Any, error: Any) -> None:
            # The first of (result, timeout) wins; later answers are dropped.
            if answered.acquire(blocking=False):
                self._wake_later(task, value, error)

        try:
            self._start_call(text(target), executor, count, packed, done)
        except errors.Error as err:
            return True, (None, err)
        return None

    def op_call_async(self, task: Task | None, target: Any, executor: Any, count: int, *packed: Any) -> Any:
        if self._futures is None:
            self._futures = {}
        future_id = len(self._futures) + 1
        channel = Channel(1, external=True)
        record: dict[str, Any] = {"state": "pending", "value": None, "error": None, "channel": channel}
        self._futures[future_id] = record

        def settle(_process: Process, value: Any, error: Any) -> None:
            if record["state"] != "pending":
                return
            record.update(state="complete", value=value, error=error)
            if error is None:
                channel.offer(Payload(value))
            channel.close()

        answered = threading.Lock()

        def done(value: Any, error: Any) -> None:
            if answered.acquire(blocking=False):
                self._process.deliver((CALL, lambda proc: settle(proc, value, error)))

        try:
            self._start_call(text(target), executor, count, packed, done)
        except errors.Error as err:
            return True, (None, err)
        return True, (future_id, channel)

    def op_future_state(self, task: Task | None, future_id: Any) -> tuple[bool, Any]:
        record = (self._futures or {}).get(int(future_id))
        return True, (record["state"] if record else "canceled",)

    def op_future_result(self, task: Task | None, future_id: Any) -> tuple[bool, Any]:
        record = (self._futures or {}).get(int(future_id)) or {
            "state": "canceled",
            "value": None,
            "error": None,
        }
        return True, (record["state"], record["value"], record["error"])

    def op_future_cancel(self, task: Task | None, future_id: Any) -> tuple[bool, Any]:
        record = (self._futures or {}).get(int(future_id))
        if record is None or record["state"] != "pending":
            return True, (False, errors.Error(errors.INVALID, "future is not pending"))
        record.update(state="canceled", error=errors.Error(errors.CANCELED, "future canceled"))
        record["channel"].close()
        return True, (True,)

    # -- context, ids, randomness, logs ---------------------------------------------------------

    def op_ctx_get(self, task: Task | None, key: Any) -> tuple[bool, Any]:
        name = text(key)
        context = self._process.context or {}
        if name not in context:
            return True, (None, errors.Error(errors.NOT_FOUND, f"context key {name!r} not found"))
        return True, (context[name],)

    def op_ctx_all(self, task: Task | None) -> tuple[bool, Any]:
        return True, (dict(self._process.context or {}),)

    def op_uuid(self, task: Task | None, version: Any) -> tuple[bool, Any]:
        kind = text(version)
        if kind == "v1":
            return True, (str(uuid_module.uuid1()),)
        if kind == "v7":
            return True, (stdlib.uuid_v7(time.time_ns() // 1_000_000, os.urandom(10)),)
        return True, (str(uuid_module.uuid4()),)

    def op_random_bytes(self, task: Task | None, count: Any) -> tuple[bool, Any]:
        return True, (os.urandom(stdlib.random_byte_count(count)),)

    def op_random(self, task: Task | None, low: Any = None, high: Any = None) -> tuple[bool, Any]:
        return True, (lua_random(random.random, low, high),)

    def op_log(self, task: Task | None, level: Any, name: Any, message: Any, fields: Any) -> tuple[bool, Any]:
        log_lua(
            self.code.entry_id,
            str(self._process.pid),
            text(level),
            text(name),
            text(message),
            self._lua(fields),
        )
        return True, ()


def process_option_problems(values: Any) -> tuple[errors.Error | None, bool | None]:
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


def lua_random(uniform: Any, low: Any, high: Any) -> float | int:
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


_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warn": logging.WARNING, "error": logging.ERROR}


def log_lua(entry_id: str, pid: str, level: str, name: str, message: str, fields: Any) -> None:
    """A Lua ``logger`` call, through Python logging with the PID and entry attached."""
    suffix = f".{name}" if name else ""
    target = logging.getLogger(f"actors.lua.{entry_id}{suffix}")
    extra = {"pid": pid, "entry": entry_id, "fields": fields if isinstance(fields, dict) else {}}
    shown = " ".join(
        f"{key}={value}" for key, value in sorted(extra["fields"].items(), key=lambda kv: str(kv[0]))
    )
    target.log(_LEVELS.get(level, logging.INFO), "%s%s", message, f" {shown}" if shown else "", extra=extra)


def _unpack_values(message: dict[str, Any]) -> list[Any]:
    values = message.get("values") or []
    count = int(message.get("n") or 0)
    if isinstance(values, dict):
        return [values.get(index) for index in range(1, count + 1)]
    return list(values)[:count] + [None] * max(0, count - len(values))


def process_factory(pool: StatePool | None = None) -> Any:
    """The ``process.lua``/``function.lua`` kind factory for the node's kinds registry."""
    states = pool or StatePool()

    def factory(entry: Any, request: SpawnRequest, process: Process) -> tuple[LuaProcess, bool]:
        return LuaProcess(entry.lua_code(), request, states), False

    factory.pool = states  # type: ignore[attr-defined]
    return factory
