"""The process driver for Lua: a ``process.lua`` entry running on a host.

``LuaProcess`` is a coroutine process whose tasks are Lua coroutines; the
operations are :class:`~actors.lua.core.LuaCore`'s, and ``LuaProcess`` is
their :class:`~actors.lua.effects.Effects` for real: messages go through the
node, timers through the node's timer thread, ``funcs.call`` runs a
``function.lua`` entry as its own process (or a Python function on a thread
pool) and wakes the caller when the result is in.  Everything that wakes a
task comes back as a signal in this process's own mailbox, so it is ordered
with the rest.
"""

from __future__ import annotations

import logging
import os
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from actors import _ops, codec, errors
from actors._driver import CoroutineDriver, Ticker
from actors._process import CALL, Process, current_process
from actors._tasks import Task
from actors._timers import Timer
from actors.entries.model import register_code_builder
from actors.lua.core import LuaCore
from actors.lua.effects import Done
from actors.lua.pool import StatePool
from actors.lua.runtime import DEFAULT_MEMORY_LIMIT, LuaState, text, text_or_bytes
from actors.pid import PID, is_pid_text
from actors.seam import SpawnRequest, StartMessage
from actors.signals import Signal

__all__ = ["LuaCode", "LuaProcess", "process_factory"]

_SENT = (True,)
_SYSTEM_RANDOM = random.SystemRandom()
_PID_TEXTS: dict[bytes, PID] = {}
"""Destinations Lua named by PID text, parsed (Lua sends to the same few PIDs again and again)."""

_CALLABLE_KINDS = frozenset(("function.lua", "process.lua"))
"""Entries ``funcs.call`` runs (Wippy calls a process entry's main like a function)."""

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


class LuaProcess(CoroutineDriver):
    """Runs a Lua entry's function as the main task of a process; the process's Lua effects."""

    __slots__ = ("_busy_since", "_runaway", "_state", "args", "code", "core", "pool")

    cooperative = True  # limits: on the host's Lua lane (a thread of its own), not its worker pool

    def __init__(self, code: LuaCode, request: SpawnRequest, pool: StatePool | None = None) -> None:
        super().__init__()
        self.code = code
        self.pool = pool
        self._state: LuaState | None = None
        self.args = request.args
        self.core: LuaCore | None = None
        self._busy_since = 0.0
        """When this process's Lua code last began to run (the start of its slice)."""
        self._runaway: errors.Error | None = None

    # -- CoroutineDriver ----------------------------------------------------------------------

    def idle(self, process: Process) -> None:
        self._busy_since = time.monotonic()
        super().idle(process)
        state = self._state
        if state is not None and self.pool is not None and state.users:  # limits: defect 10
            self.pool.check_memory(state)

    # -- limits: the shared state's memory (the pool's Member) ----------------------------------

    def lua_roots(self) -> list[Any]:
        """What this process reaches in Lua: its coroutines and the Lua values its channels hold."""
        roots: list[Any] = []
        for task in self.scheduler.tasks.values():
            thread = getattr(task.coro, "thread", None)
            if thread is not None:
                roots.append(thread)
        if self.core is not None:
            roots.extend(self.core.lua_values())
        return roots

    def end_for_memory(self, error: errors.Error) -> bool:
        """End this process with ``error`` (it holds the most of its shared state's memory)."""
        process = self.process
        if process is None or not process.alive:
            return False
        self._runaway = error
        if current_process() is process:
            process.exit(error=error)  # in its own slice: it ends when the slice does
        else:
            process.deliver((Signal.TERMINATE, None, error))
        return True

    def started(self, process: Process) -> None:
        self._busy_since = time.monotonic()
        self.process = process
        try:
            main = self.create_main(process)
        except errors.Error:
            if self._runaway is None:
                raise
            process.exit(error=self._runaway)  # its file's top level ran past max_busy
            return
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
            state = self.pool.acquire(process.lane, self)  # limits: states of its lane thread only
        self._state = state
        self.core = LuaCore(state, self.router, self.scheduler, effects=self)
        return self.core.launch(code, self.args)

    def perform_other(self, task: Task, op: tuple[Any, ...]) -> tuple[bool, Any] | None:
        if self.core is not None:
            return self.core.perform(task, op)
        return super().perform_other(task, op)

    def result_of(self, ok: bool, value: Any) -> tuple[Any, errors.Error | None]:
        if self._runaway is not None:  # ended by the watchdog for holding its thread
            return None, self._runaway
        if self.core is None:
            return super().result_of(ok, value)
        return self.core.result_of(ok, value)

    def stopped(self, process: Process) -> None:
        super().stopped(process)  # cancels every timer, the Lua ones included
        self.core = None  # the core refers back to this driver
        state, self._state = self._state, None
        if state is None:
            return
        if self.pool is not None and state.users:
            failure = process.result[1] if process.result is not None else None
            ran_out = failure is not None and failure.kind() == errors.LIMIT_EXCEEDED
            self.pool.release(state, collect=ran_out, member=self)
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

    # -- Effects: who is running -------------------------------------------------------------------

    in_workflow = False

    def pid_text(self) -> str:
        return str(self._process.pid)

    @property
    def context(self) -> dict[str, Any] | None:
        return self._process.context

    @property
    def trap_links(self) -> bool:
        return self._process.trap_links

    @trap_links.setter
    def trap_links(self, value: bool) -> None:
        self._process.trap_links = value

    @property
    def node(self) -> Any:
        return self._process.node

    # -- Effects: clock, randomness, timers, wake-ups ------------------------------------------------

    def now_ns(self) -> int:
        return time.time_ns()

    def uniform(self) -> float:
        return random.random()

    def random_bits(self, count: int) -> int:
        return _SYSTEM_RANDOM.getrandbits(count)

    def random_bytes(self, count: int) -> bytes:
        return os.urandom(count)

    def start_timer(self, seconds: float, fire: Callable[[], Any], repeat: bool) -> Any:
        if not repeat:
            return self.call_later(seconds, fire)
        return self.call_every(seconds, fire)  # limits: a minimum period; paused while nobody reads

    def stop_timer(self, handle: Any) -> bool:
        if type(handle) is Ticker:
            return self.stop_ticker(handle)
        return self.cancel_timer(handle)

    def post(self, action: Callable[[], None]) -> None:
        """Run ``action()`` in this process's context: through its own mailbox (any thread).

        A wake-up that comes after the process ended (a call that finished after its
        caller, a host shutting down) finds nobody waiting and is dropped.
        """
        process = self.process
        if process is not None:
            process.deliver((CALL, lambda _process: action()))

    def terminated(self) -> bool:
        """Asked by the Lua watchdog: must this process end while its Lua code runs?

        Yes when it was terminated, and (limits, issue 12 defect 9) when it
        has run for ``max_busy`` seconds without waiting while other
        processes wait for its thread: Lua cannot be preempted, so a loop
        that never waits would hold every process of its lane thread.  Alone
        on its thread it may run as long as it likes.  A lane may also end a
        process for a deadline of its own (``queue.overdue(process)``: an
        HTTP handler's, on a lane whose thread cannot fire a timer while Lua
        holds it).
        """
        process = self.process
        if process is None:
            return False
        if process._kill:
            return True
        busy = time.monotonic() - self._busy_since
        limit = process.limits.max_busy
        lane = process.lane
        if lane is not None:
            overdue = getattr(lane.queue, "overdue", None)
            expired = overdue(process) if overdue is not None else None
            if expired is not None:
                self._runaway = expired
                return True
        if busy > limit and lane is not None and lane.queue.waiting():
            self._runaway = errors.Error(
                errors.LIMIT_EXCEEDED,
                f"ran Lua for {busy:.1f} s without waiting while other processes waited for its "
                f"thread (max_busy {limit:g} s)",
                retryable=False,
            )
            return True
        return False

    # -- Effects: messages and signals ------------------------------------------------------------------

    def send(
        self, dest: str, topic: str, payloads: tuple[Any, ...], done: Done | None
    ) -> tuple[Any, ...] | None:
        node = self._process.node
        return self._off_lane(done, lambda: node.send(dest, topic, *payloads) or _SENT, dest=dest)

    def _off_lane(
        self, done: Done | None, action: Callable[[], tuple[Any, ...]], *, dest: str = "", host: str = ""
    ) -> tuple[Any, ...] | None:
        """``action()``'s Lua results now, or (limits) ``None`` when it waits on I/O: it then runs on
        the host's I/O threads (never on the Lua thread, which runs the other processes of this
        Lua state) and ``done`` gets its results."""
        process = self._process
        node = process.node
        offload = getattr(process.host, "offload", None)
        if done is None or offload is None:
            return action()
        in_memory = node.in_memory(host_id=host) if dest == "" else node.in_memory(node.resolve(dest))
        if in_memory:
            return action()

        def finished(values: Any, error: BaseException | None) -> None:
            if error is None:
                self.post(lambda: done(*values))
            elif isinstance(error, errors.Error):
                self.post(lambda: done(None, error))
            else:
                self.post(lambda: done(None, errors.from_exception(error)))

        offload(process, action, finished)
        return None

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
                assert self.core is not None
                node.send(pid, text(topic), *self.core.payloads(count, packed))
        except errors.Error as err:
            assert self.core is not None
            return self.core.error_result(err)
        return _SENT

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

    def terminate(self, dest: str, done: Done | None) -> tuple[Any, ...] | None:
        node = self._process.node
        return self._off_lane(done, lambda: node.terminate(dest) or _SENT, dest=dest)

    def cancel(
        self, dest: str, deadline: float | None, reason: str, done: Done | None
    ) -> tuple[Any, ...] | None:
        node = self._process.node
        return self._off_lane(done, lambda: node.cancel(dest, deadline, reason) or _SENT, dest=dest)

    def monitor(self, dest: str) -> None:
        _ops.monitor(self._process, dest)

    def unmonitor(self, dest: str) -> None:
        _ops.unmonitor(self._process, dest)

    def link(self, dest: str) -> None:
        _ops.link(self._process, dest)

    def unlink(self, dest: str) -> None:
        _ops.unlink(self._process, dest)

    def register(self, name: str, pid: str | None, scope: str, done: Done | None) -> tuple[Any, ...] | None:
        process = self._process
        node = process.node
        target = pid if pid is not None else process.pid
        if not node.names.waits(scope):
            node.register(name, target, scope)
            return _SENT
        if done is None:
            return None  # a round trip to the cluster: yielded first, so the process waits without its thread
        node.register_later(name, target, scope, self._completion(done))
        return None

    def lookup(self, name: str) -> str:
        return str(self._process.node.lookup(name))

    def unregister(self, name: str, scope: str, done: Done | None) -> tuple[Any, ...] | None:
        process = self._process
        node = process.node
        if not node.names.waits(scope):
            return (node.names.unregister_scoped(name, scope, process.pid),)
        if done is None:
            return None
        node.unregister_later(name, scope, process.pid, self._completion(done))
        return None

    def _completion(self, done: Done) -> Callable[[Any, errors.Error | None], None]:
        """A registration's ``(value, error)``, from any thread, as the operation's Lua results."""

        def completed(value: Any, error: errors.Error | None) -> None:
            self.post(lambda: done(None, error) if error is not None else done(value))

        return completed

    # -- Effects: spawns ------------------------------------------------------------------------------------

    def _spawn_request(
        self, entry_id: str, spec: dict[str, Any] | None, payloads: tuple[Any, ...]
    ) -> SpawnRequest:
        process = self._process
        if spec is None:  # a plain process.spawn: the child inherits the context as it is
            return SpawnRequest(entry_id, payloads, process.pid, context=process.context or None)
        context = dict(process.context or {})
        context.update(spec.get("context") or {})
        messages = tuple(
            StartMessage(
                message["topic"],
                tuple(codec.encode(value) for value in _unpack_values(message)),
            )
            for message in spec.get("messages") or []
        )
        return SpawnRequest(
            entry_id,
            payloads,
            process.pid,
            bool(spec.get("link")),
            bool(spec.get("monitor")),
            spec.get("name"),
            context or None,
            spec.get("options") or None,
            messages,
        )

    def spawn(
        self,
        entry_id: str,
        host: str,
        spec: dict[str, Any] | None,
        payloads: tuple[Any, ...],
        done: Done | None,
    ) -> tuple[Any, ...]:
        request = self._spawn_request(entry_id, spec, payloads)
        process = self._process
        node = process.node
        offload = getattr(process.host, "offload", None)
        if done is None or offload is None or node.in_memory(host_id=host):
            return (str(node.spawn_request(request, host, process)),)

        # limits: a start through I/O (a workflow) runs off the Lua thread; the caller's side
        # of a link or monitor is recorded back in this process's own context.
        def spawned(pid: Any, error: BaseException | None) -> None:
            if error is not None:
                failure = error if isinstance(error, errors.Error) else errors.from_exception(error)
                self.post(lambda: done(None, failure))
                return

            def attached() -> None:
                process.record_spawned(pid, request.link, request.monitor)
                done(str(pid))

            self.post(attached)

        offload(process, lambda: node.spawn_request(request, host), spawned)
        return None

    def spawn_now(
        self, entry_id: Any, host_id: Any, spec: Any, count: int, *packed: Any
    ) -> tuple[Any, ...] | None:
        """``process.spawn`` from inside a task (``LuaCore.immediate``): ``None`` to yield it
        when the host starts processes through I/O (a workflow host)."""
        node = self._process.node
        host = text(host_id)
        if not node.in_memory(host_id=host):
            return None
        core = self.core
        assert core is not None
        try:
            spec_data = None if spec is None else core._table(spec)
            request = self._spawn_request(text(entry_id), spec_data, core.payloads(count, packed))
            pid = node.spawn_request(request, host, self._process)
        except errors.Error as err:
            return core.error_result(err)
        return core.lua_results((str(pid),))

    def exec(
        self, entry_id: str, host: str | None, spec: dict[str, Any], payloads: tuple[Any, ...], done: Done
    ) -> None:
        request = self._spawn_request(entry_id, spec, payloads)
        request.link = request.monitor = False
        request.parent = None
        request.on_exit = lambda value, error: self.post(lambda: done(value, error))
        node = self._process.node
        if node.in_memory(host_id=host or ""):
            node.spawn_request(request, host or "")
            return
        process = self._process

        def started(_values: Any, error: BaseException | None) -> None:  # limits: off the Lua thread
            if error is not None:
                failure = error if isinstance(error, errors.Error) else errors.from_exception(error)
                self.post(lambda: done(None, failure))

        offload = getattr(process.host, "offload", None)
        if offload is None:
            node.spawn_request(request, host or "")
        else:
            offload(process, lambda: node.spawn_request(request, host or ""), started)

    def upgrade(self, entry_id: str | None, payloads: tuple[Any, ...]) -> None:
        """``process.upgrade``: go on in new code (this entry's again, or ``entry_id``'s).

        The process keeps its PID, mailbox, links, monitors, names, options and
        context; ``payloads`` become the new main's arguments.  Every coroutine of
        the old code ends and its timers are stopped; what was routed to the old
        code but not read yet goes back to the mailbox (``Router.recall``).  A
        failure (no such entry, one that is not Lua process code, an error while
        the new code loads) ends the process with that error.
        """
        scheduler = self.scheduler
        try:
            code = self._upgrade_code(entry_id)
        except errors.Error as err:
            scheduler.end_main(False, err)
            return
        self.router.recall(scheduler.handed())
        scheduler.stop_all()
        if self._timers:
            for timer in self._timers:
                timer.cancel()
            self._timers = None
        self.core = None
        state, self._state = self._state, None
        if state is not None:
            if self.pool is not None and state.users:
                self.pool.release(state)
            else:
                state.close()
        self.code, self.args = code, payloads
        try:
            main = self.create_main(self._process)
        except errors.Error as err:
            scheduler.end_main(False, err)
            return
        ended = main.ended_at_launch()
        if ended is not None:  # the new code ended (or failed to load) in its first run
            scheduler.end_main(*ended)
        else:
            scheduler.spawn(main, main=True)

    def _upgrade_code(self, entry_id: str | None) -> LuaCode:
        node = self._process.node
        entries = getattr(node.kinds, "entries", None) if node.kinds is not None else None
        target = entry_id or self.code.entry_id
        entry = entries.get(target) if entries is not None else None
        if entry is None:
            if entry_id is None:
                return self.code  # no registry (a program started from code): the same code again
            raise errors.Error(errors.NOT_FOUND, f"process.upgrade: entry {target!r} not found")
        if entry.kind not in ("process.lua", "function.lua"):
            raise errors.Error(
                errors.INVALID, f"process.upgrade: {target} is a {entry.kind}, not Lua code a process runs"
            )
        code: LuaCode = entry.lua_code()
        return code

    # -- Effects: calls ------------------------------------------------------------------------------------

    def call(
        self, target: str, executor: dict[str, Any], payloads: tuple[Any, ...], done: Done
    ) -> Callable[[], None] | None:
        """A Python function on the node's pool, or a ``function.lua`` or ``process.lua``
        entry as a process of its own (whose end is the call's result).

        Returns what cancels the call (``future:cancel()``): the entry's process is
        terminated.  A Python function already running cannot be stopped (``None``).
        """
        process = self._process
        node = process.node
        answered = threading.Lock()

        def finish(value: Any, error: Any) -> None:  # on any thread; the first of (result, timeout) wins
            if answered.acquire(blocking=False):
                self.post(lambda: done(value, error))

        context = dict(process.context or {})
        context.update(executor.get("context") or {})
        function = node.functions.get(target)
        if function is not None:
            node.run_function(target, function, payloads, context, finish)
            return None
        entry = node.kinds.entries.get(target) if node.kinds.entries is not None else None
        if entry is None:
            raise errors.Error(errors.NOT_FOUND, f"function {target!r} not found", retryable=False)
        if entry.kind not in _CALLABLE_KINDS:
            raise errors.Error(
                errors.INVALID,
                f"{target!r} is a {entry.kind} entry: funcs.call runs function.lua and process.lua entries",
                retryable=False,
            )
        timers: list[Timer] = []
        ended: list[bool] = []

        def finished(value: Any, error: Any) -> None:
            ended.append(True)
            for timer in timers:
                timer.cancel()
            finish(value, error)

        def stop() -> None:
            for timer in timers:
                timer.cancel()
            try:
                node.terminate(pid)
            except errors.Error:
                pass  # it finished meanwhile

        request = SpawnRequest(target, payloads, context=context or None, on_exit=finished)
        pid = node.spawn_request(request, process.host.id)
        timeout = (executor.get("options") or {}).get("timeout")
        if timeout and not ended:

            def expire() -> None:
                finish(None, errors.Error(errors.TIMEOUT, f"{target} timed out after {timeout} ms"))
                stop()

            timers.append(node.timers.call_later(float(timeout) / 1000.0, expire))
            if ended:
                timers[0].cancel()
        return stop

    # -- Effects: logs ----------------------------------------------------------------------------------------

    def logger(self, entry_id: str, name: str) -> logging.Logger:
        return logging.getLogger(f"actors.lua.{entry_id}.{name}" if name else f"actors.lua.{entry_id}")


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


register_code_builder(LuaCode)  # Entry.lua_code() builds a LuaCode
