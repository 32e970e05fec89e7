"""The workflow driver: one dynamic Temporal workflow type runs any ``workflow.lua``.

``LuaWorkflow`` is registered as the worker's dynamic workflow; the workflow
type (the entry ID, or ``meta.temporal.workflow.name``) selects the Lua code.
The program runs with the same prelude, router and scheduler as a Lua
process; only the operations are performed differently:

==========================  =================================================
Lua                         Temporal
==========================  =================================================
``funcs.call``              activity (type = function entry ID)
``time.sleep/after/timer``  durable timers
``time.now``, ``uuid``,     workflow clock, recorded randomness
``crypto``, ``math.random``
``process.spawn/exec``      child workflows (the parent always gets EXIT)
``process.send``            signal to a workflow; local activity to a process
``process.inbox/listen``    signals (buffered from the first instant)
``events()``                CANCEL requests and children's EXITs
==========================  =================================================

Everything is deterministic: a replay on another worker process gives the
same commands (a fixed Lua string hash seed makes ``pairs()`` order stable).
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RawValue
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from actors import errors
    from actors._routing import Router
    from actors._tasks import Scheduler, Task
    from actors.channel import Channel
    from actors.events import Cancel, Exit, LinkDown, Message
    from actors.lua import stdlib
    from actors.lua.core import LUA_OP, LuaCore
    from actors.lua.process import lua_random, process_option_problems
    from actors.lua.runtime import DEFAULT_MEMORY_LIMIT, LuaState, LuaTime, Payload, text
    from actors.pid import PID, is_pid_text
    from temporal_bridge import _registry
    from temporal_bridge._context import CONTEXT_HEADER, FROM_HEADER, OUTGOING
    from temporal_bridge.failures import from_failure, to_application_error
    from temporal_bridge.interceptors import SIGNAL_SENDER, WORKFLOW_HEADERS
    from temporal_bridge.options import activity_options, workflow_options

__all__ = ["CANCEL_DEADLINE_SIGNAL", "LINK_DOWN_SIGNAL", "RELAY_ACTIVITY", "TOPOLOGY_PID", "LuaWorkflow"]

LINK_DOWN_SIGNAL = "@actorflow.link_down"
CANCEL_DEADLINE_SIGNAL = "@actorflow.cancel_deadline"
"""Sent just before a cancel request that has a deadline (Temporal's cancel carries none)."""
"""Signal a linked process's failure is delivered with (payload: error)."""
RELAY_ACTIVITY = "__actorflow_relay"
"""Local activity that performs process-side operations (send, terminate, cancel)."""
TOPOLOGY_PID = PID("", "topology")
_RELAY_TIMEOUT = timedelta(seconds=30)


def _fail(kind: str, message: str) -> ApplicationError:
    return to_application_error(errors.Error(kind, message, retryable=False))


@workflow.defn(dynamic=True)
class LuaWorkflow:
    """Interprets the ``workflow.lua`` entry named by the workflow type."""

    def __init__(self) -> None:
        self.router = Router()
        self.scheduler = Scheduler(self, self.router)
        self.core: LuaCore | None = None
        self.config: _registry.WorkerConfig | None = None
        self.code: Any = None
        self.context: dict[str, Any] = {}
        self.trap_links = False
        self._cancel_deadline: float | None = None
        self._relay_keys = itertools.count(1)
        self.woken = False
        self.pid = ""
        self._timer_ids = itertools.count(1)
        self._timers: dict[int, dict[str, Any]] = {}
        self._futures: dict[int, dict[str, Any]] = {}
        self._chains: dict[str, asyncio.Task[Any]] = {}
        self._children: dict[str, Any] = {}
        self._forced_failure: errors.Error | None = None
        self._tasks: set[asyncio.Task[Any]] = set()

    # -- signals -------------------------------------------------------------------------------

    @workflow.signal(dynamic=True)
    def on_signal(self, name: str, args: Sequence[RawValue]) -> None:
        converter = workflow.payload_converter()
        values = tuple(converter.from_payload(arg.payload) for arg in args)
        sender_text = SIGNAL_SENDER.get() or ""
        sender = PID.parse(sender_text) if is_pid_text(sender_text) else None
        if name == LINK_DOWN_SIGNAL:
            self._link_down(sender, values[0] if values else None)
            return
        if name == CANCEL_DEADLINE_SIGNAL:
            self._cancel_deadline = values[0] if values else None
            return
        self.router.push_message(Message(name, sender, values))
        self.woken = True

    def _link_down(self, sender: PID | None, error: Any) -> None:
        """A linked process failed: an event when trapping links, else this workflow fails."""
        failure = error if isinstance(error, errors.Error) else errors.Error(errors.UNKNOWN, str(error))
        if self.trap_links:
            self.router.push_event(
                LinkDown(sender or TOPOLOGY_PID, failure, None, workflow.now().timestamp())
            )
        else:
            details = {
                "pid": str(sender) if sender else "",
                "cause": {"kind": failure.kind(), "message": failure.message()},
            }
            self._forced_failure = errors.Error(errors.UNKNOWN, "linked process failed", details=details)
        self.woken = True

    # -- the run loop ----------------------------------------------------------------------------

    @workflow.run
    async def run(self, args: Sequence[RawValue]) -> Any:
        info = workflow.info()
        config = _registry.lookup(info.namespace, info.task_queue, info.workflow_type)
        if config is None:
            raise _fail(errors.NOT_FOUND, f"no actorflow worker for task queue {info.task_queue!r}")
        code = config.workflows.get(info.workflow_type)
        if code is None:
            raise _fail(
                errors.NOT_FOUND,
                f"workflow type {info.workflow_type!r} is not registered on {config.worker_id}",
            )
        self.config = config
        self.code = code
        headers = WORKFLOW_HEADERS.get() or {}
        context = headers.get(CONTEXT_HEADER)
        self.context = dict(context) if isinstance(context, dict) else {}
        self.pid = str(PID(config.worker_id, info.workflow_id, config.client_id))
        converter = workflow.payload_converter()
        values = [converter.from_payload(arg.payload) for arg in args]
        state = LuaState(max_memory=code.memory_limit or DEFAULT_MEMORY_LIMIT, deterministic=True)
        self.core = LuaCore(state, self.router, self.scheduler, world=self)
        try:
            fn = self.core.load(code)
        except errors.Error as err:
            raise to_application_error(errors.Error(err.kind(), err.message(), retryable=False)) from None
        self.scheduler.spawn(self.core.main_task(fn, tuple(values)), main=True)
        while True:
            if self.router.dirty:
                self.router.flush()
            self.scheduler.run()
            if self._forced_failure is not None:
                raise to_application_error(self._forced_failure)
            if self.scheduler.outcome is not None:
                break
            if self.scheduler.deadlocked():
                raise _fail(errors.INTERNAL, "deadlock: every coroutine is blocked and nothing can wake them")
            self.woken = False
            try:
                await workflow.wait_condition(lambda: self.woken or self.router.dirty)
            except asyncio.CancelledError:
                # A cancel request is an event: the workflow decides what to do. As in
                # the runtime: no reason, `at` as RFC3339; the deadline when one was given.
                deadline, self._cancel_deadline = self._cancel_deadline, None
                self.router.push_event(Cancel(TOPOLOGY_PID, "", deadline, workflow.now().isoformat()))
        value, error = self.core.result_of(*self.scheduler.outcome)
        if error is not None:
            raise to_application_error(error)
        return value

    def terminated(self) -> bool:
        """Workflow states run no Lua watchdog (Temporal's deadlock detector covers them)."""
        return False

    def perform(self, task: Task, op: tuple[Any, ...]) -> tuple[bool, Any] | None:
        if op[0] == LUA_OP and self.core is not None:
            return self.core.dispatch(task, op[1], op[2])
        return False, errors.Error(errors.INVALID, f"unknown operation {op[0]!r}")

    # -- helpers ------------------------------------------------------------------------------------

    def _lua(self, value: Any) -> Any:
        assert self.core is not None
        return self.core.state.from_lua(value)

    def _payloads(self, count: int, packed: tuple[Any, ...]) -> list[Any]:
        """The ``count`` values Lua passed after the count (trailing nils included)."""
        return [self._lua(packed[index]) if index < len(packed) else None for index in range(int(count))]

    def _later(self, task: Task | None, work: Callable[[], Awaitable[tuple[Any, ...]]]) -> None:
        """Run ``work`` as a workflow task; its result wakes ``task`` (if any)."""

        async def run() -> None:
            try:
                values = await work()
            except ApplicationError as failure:
                values = (None, from_failure(failure))
            except errors.Error as err:
                values = (None, err)
            except asyncio.CancelledError:
                values = (None, errors.Error(errors.CANCELED, "operation canceled"))
            except Exception as exc:  # any other Temporal failure of the operation
                values = (None, from_failure(exc))
            if task is not None:
                self.scheduler.wake(task, values)
            self.woken = True

        self._spawn(run())

    def _outgoing(self, extra_context: dict[str, Any] | None = None) -> dict[str, Any]:
        context = dict(self.context)
        if extra_context:
            context.update(extra_context)
        return {CONTEXT_HEADER: context or None, FROM_HEADER: self.pid}

    def _chain(self, key: str, task: Task | None, work: Callable[[], Awaitable[tuple[Any, ...]]]) -> None:
        """Like :meth:`_later`, but operations with the same ``key`` run in order."""
        previous = self._chains.get(key)

        async def ordered() -> tuple[Any, ...]:
            if previous is not None:
                await asyncio.wait([previous])
            return await work()

        async def run() -> None:
            try:
                values = await ordered()
            except Exception as exc:
                values = (None, from_failure(exc))
            if task is not None:
                self.scheduler.wake(task, values)
            self.woken = True

        self._chains[key] = self._spawn(run())

    def _spawn(self, coro: Any) -> asyncio.Task[Any]:
        """A workflow task kept referenced until done (asyncio holds tasks weakly)."""
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def _worker_queue(self, host: str) -> str:
        assert self.config is not None
        return self.config.worker_queues.get(host, host)

    # -- identity and messages ------------------------------------------------------------------

    def op_pid(self, task: Task | None) -> tuple[bool, Any]:
        return True, (self.pid,)

    def op_entry_id(self, task: Task | None) -> tuple[bool, Any]:
        return True, (self.code.entry_id,)

    def op_send(
        self, task: Task | None, dest: Any, topic: Any, count: int, *packed: Any
    ) -> tuple[bool, Any] | None:
        target, name = text(dest), text(topic)
        if name.startswith("@"):
            return True, (None, errors.Error(errors.INVALID, "cannot send to @ topics"))
        payloads = self._payloads(count, packed)
        if target == self.pid:
            self.router.push_message(Message(name, PID.parse(self.pid), tuple(payloads)))
            return True, (True,)
        pid = PID.parse(target) if is_pid_text(target) else None
        assert self.config is not None
        if pid is not None and pid.node == self.config.client_id:
            outgoing = self._outgoing()

            async def signal() -> tuple[Any, ...]:
                OUTGOING.set(outgoing)
                handle = workflow.get_external_workflow_handle(pid.uniq)
                await handle.signal(name, args=payloads)
                return (True,)

            self._chain(target, task, signal)
        else:
            self._relay(task, target, "send", {"topic": name, "payloads": payloads})
        return (True, (True,)) if task is None else None

    def _relay(self, task: Task | None, target: str, action: str, data: dict[str, Any]) -> None:
        info = workflow.info()
        # The same key on every replay of this run: a relay repeated after the
        # delivery (a workflow task that failed before recording it) is a no-op.
        key = f"{info.workflow_id}/{info.run_id}/{next(self._relay_keys)}"
        request = {"action": action, "target": target, "from": self.pid, "key": key, **data}

        async def relay() -> tuple[Any, ...]:
            result = await workflow.execute_local_activity(
                RELAY_ACTIVITY, request, start_to_close_timeout=_RELAY_TIMEOUT
            )
            if isinstance(result, dict) and result.get("error") is not None:
                return (None, result["error"])
            return (True,)

        self._chain(target, task, relay)

    # -- children ----------------------------------------------------------------------------------

    def _start_child(
        self, entry_id: str, host: str, spec: dict[str, Any], payloads: list[Any]
    ) -> Callable[[], Awaitable[Any]]:
        assert self.config is not None
        config = self.config
        type_name = config.entry_types.get(entry_id)
        if type_name is None:
            raise errors.Error(errors.NOT_FOUND, f"workflow entry {entry_id!r} not found")
        options = workflow_options(spec.get("options"))
        queue = options.task_queue or self._worker_queue(host)
        child_id = options.id or str(workflow.uuid4())
        outgoing = self._outgoing(spec.get("context"))
        kwargs = options.start_kwargs(child_id, queue)
        kwargs["parent_close_policy"] = options.parent_close_policy or workflow.ParentClosePolicy.TERMINATE
        if options.wait_for_cancellation:
            kwargs["cancellation_type"] = workflow.ChildWorkflowCancellationType.WAIT_CANCELLATION_COMPLETED

        async def start() -> Any:
            OUTGOING.set(outgoing)
            return await workflow.start_child_workflow(type_name, args=payloads, **kwargs)

        return start

    def op_spawn(
        self, task: Task | None, entry_id: Any, host_id: Any, spec: Any, count: int, *packed: Any
    ) -> tuple[bool, Any] | None:
        if task is None:
            return None
        host = text(host_id)
        assert self.config is not None
        try:
            start = self._start_child(
                text(entry_id), host, self._lua(spec) or {}, self._payloads(count, packed)
            )
        except errors.Error as err:
            return True, (None, err)

        async def spawn() -> tuple[Any, ...]:
            handle = await start()
            child = PID(host, handle.id, self.config.client_id)  # type: ignore[union-attr]
            self._children[str(child)] = handle
            self._watch_child(child, handle)
            return (str(child),)

        self._later(task, spawn)
        return None

    def _watch_child(self, child: PID, handle: Any) -> None:
        """Children are always monitored: their end is an EXIT event for the parent."""

        async def watch() -> None:
            value, error = None, None
            try:
                value = await handle
            except Exception as exc:
                error = from_failure(exc)
            self._children.pop(str(child), None)
            self.router.push_event(Exit(child, value, error, workflow.now().timestamp()))
            self.woken = True

        self._spawn(watch())

    def _exec_child(
        self, task: Task, entry_id: str, host: str, spec: dict[str, Any], payloads: list[Any]
    ) -> Any:
        try:
            start = self._start_child(entry_id, host, spec, payloads)
        except errors.Error as err:
            return True, (None, err)

        async def execute() -> tuple[Any, ...]:
            handle = await start()
            try:
                return (await handle, None)
            except Exception as exc:
                return (None, from_failure(exc))

        self._later(task, execute)
        return None

    def op_exec(
        self, task: Task | None, entry_id: Any, host_id: Any, spec: Any, count: int, *packed: Any
    ) -> tuple[bool, Any] | None:
        if task is None:
            return None
        return self._exec_child(
            task, text(entry_id), text(host_id), self._lua(spec) or {}, self._payloads(count, packed)
        )

    def op_wf_exec(
        self, task: Task | None, entry_id: Any, count: int, *packed: Any
    ) -> tuple[bool, Any] | None:
        if task is None:
            return None
        assert self.config is not None
        return self._exec_child(
            task, text(entry_id), self.config.worker_id, {}, self._payloads(count, packed)
        )

    def op_upgrade(self, task: Task | None, entry_id: Any, count: int, *packed: Any) -> tuple[bool, Any]:
        assert self.config is not None
        payloads = self._payloads(count, packed)
        target = self.config.entry_types.get(text(entry_id)) if entry_id is not None else None
        OUTGOING.set(self._outgoing())
        workflow.continue_as_new(args=payloads, workflow=target or workflow.info().workflow_type)

    # -- signals to others ------------------------------------------------------------------------

    def _stop_target(
        self, task: Task | None, dest: Any, action: str, data: dict[str, Any]
    ) -> tuple[bool, Any] | None:
        target = text(dest)
        pid = PID.parse(target) if is_pid_text(target) else None
        assert self.config is not None
        if pid is not None and pid.node == self.config.client_id:
            child = self._children.get(target)

            async def cancel() -> tuple[Any, ...]:
                if child is not None:
                    child.cancel()
                else:
                    await workflow.get_external_workflow_handle(pid.uniq).cancel()
                return (True,)

            self._chain(target, task, cancel)
        else:
            self._relay(task, target, action, data)
        return (True, (True,)) if task is None else None

    def op_terminate(self, task: Task | None, dest: Any) -> tuple[bool, Any] | None:
        return self._stop_target(task, dest, "terminate", {})

    def op_cancel(
        self, task: Task | None, dest: Any, deadline_ns: Any, reason: Any
    ) -> tuple[bool, Any] | None:
        deadline = None if deadline_ns is None else deadline_ns / 1e9
        return self._stop_target(task, dest, "cancel", {"deadline": deadline, "reason": text(reason)})

    def _unsupported(self, what: str) -> tuple[bool, Any]:
        return True, (
            None,
            errors.Error(errors.INVALID, f"{what} is not supported in workflow context", retryable=False),
        )

    def op_monitor(self, task: Task | None, dest: Any) -> tuple[bool, Any]:
        return self._unsupported("process.monitor")

    def op_unmonitor(self, task: Task | None, dest: Any) -> tuple[bool, Any]:
        return self._unsupported("process.unmonitor")

    def op_link(self, task: Task | None, dest: Any) -> tuple[bool, Any]:
        return self._unsupported("process.link")

    def op_unlink(self, task: Task | None, dest: Any) -> tuple[bool, Any]:
        return self._unsupported("process.unlink")

    def op_register(self, task: Task | None, name: Any, pid: Any = None) -> tuple[bool, Any]:
        return self._unsupported("process.registry.register")

    def op_lookup(self, task: Task | None, name: Any) -> tuple[bool, Any]:
        return self._unsupported("process.registry.lookup")

    def op_unregister(self, task: Task | None, name: Any) -> tuple[bool, Any]:
        return True, (False,)

    def op_get_options(self, task: Task | None) -> tuple[bool, Any]:
        return True, ({"trap_links": self.trap_links},)

    def op_set_options(self, task: Task | None, options: Any) -> tuple[bool, Any]:
        values = self._lua(options)
        problem, trap = process_option_problems(values)
        if trap is not None:
            self.trap_links = trap
        if problem is not None:
            return True, (False, problem)
        return True, (True,)

    # -- time -------------------------------------------------------------------------------------------

    def op_now(self, task: Task | None) -> tuple[bool, Any]:
        return True, (workflow.time_ns(),)

    def op_sleep(self, task: Task | None, ns: Any) -> tuple[bool, Any] | None:
        if ns <= 0:
            return True, ()
        if task is None:
            return None

        async def sleep() -> tuple[Any, ...]:
            await workflow.sleep(ns / 1e9)
            return ()

        self._later(task, sleep)
        return None

    def op_after(self, task: Task | None, ns: Any) -> tuple[bool, Any]:
        channel = Channel(1, external=True)

        async def fire() -> None:
            await workflow.sleep(ns / 1e9)
            channel.offer(LuaTime(workflow.time_ns()))
            channel.close()
            self.woken = True

        self._spawn(fire())
        return True, (channel,)

    def op_timer(self, task: Task | None, ns: Any, repeat: Any) -> tuple[bool, Any]:
        timer_id = next(self._timer_ids)
        channel = Channel(16 if repeat else 1, external=True)
        record: dict[str, Any] = {"channel": channel, "task": None, "repeat": bool(repeat)}
        self._timers[timer_id] = record
        self._arm(record, ns / 1e9)
        return True, (timer_id, channel)

    def _arm(self, record: dict[str, Any], seconds: float) -> None:
        async def tick() -> None:
            while True:
                await workflow.sleep(seconds)
                record["channel"].offer(LuaTime(workflow.time_ns()))
                self.woken = True
                if not record["repeat"]:
                    record["task"] = None
                    return

        record["task"] = self._spawn(tick())

    def op_timer_stop(self, task: Task | None, timer_id: Any) -> tuple[bool, Any]:
        record = self._timers.get(int(timer_id))
        running = record is not None and record["task"] is not None and not record["task"].done()
        if running:
            record["task"].cancel()  # type: ignore[index]
            record["task"] = None  # type: ignore[index]
        return True, (running,)

    def op_timer_reset(self, task: Task | None, timer_id: Any, ns: Any) -> tuple[bool, Any]:
        was_running = self.op_timer_stop(task, timer_id)[1][0]
        record = self._timers.get(int(timer_id))
        if record is not None:
            self._arm(record, ns / 1e9)
        return True, (was_running,)

    # -- activities ------------------------------------------------------------------------------------

    def _activity(
        self, target: str, executor: Any, payloads: list[Any]
    ) -> Callable[[], Awaitable[tuple[Any, ...]]]:
        state = self._lua(executor) or {}
        options = activity_options(state.get("options"))
        outgoing = self._outgoing(state.get("context"))
        info = workflow.info()

        async def call() -> tuple[Any, ...]:
            OUTGOING.set(outgoing)
            try:
                value = await workflow.execute_activity(
                    target,
                    args=payloads,
                    task_queue=options.task_queue or info.task_queue,
                    activity_id=options.activity_id,
                    schedule_to_close_timeout=options.schedule_to_close_timeout,
                    schedule_to_start_timeout=options.schedule_to_start_timeout,
                    start_to_close_timeout=options.start_to_close_timeout,
                    heartbeat_timeout=options.heartbeat_timeout,
                    retry_policy=options.retry_policy,
                    summary=options.summary,
                )
            except Exception as exc:
                return (None, from_failure(exc))
            return (value, None)

        return call

    def op_call(self, task: Task | None, target: Any, executor: Any, count: int, *packed: Any) -> Any:
        if task is None:
            return None
        try:
            call = self._activity(text(target), executor, self._payloads(count, packed))
        except errors.Error as err:
            return True, (None, err)
        self._later(task, call)
        return None

    def op_call_async(self, task: Task | None, target: Any, executor: Any, count: int, *packed: Any) -> Any:
        try:
            call = self._activity(text(target), executor, self._payloads(count, packed))
        except errors.Error as err:
            return True, (None, err)
        future_id = len(self._futures) + 1
        channel = Channel(1, external=True)
        record: dict[str, Any] = {"state": "pending", "value": None, "error": None, "channel": channel}
        self._futures[future_id] = record

        async def settle() -> None:
            value, error = await call()
            if record["state"] == "pending":
                record.update(state="complete", value=value, error=error)
                if error is None:
                    channel.offer(Payload(value))
                channel.close()
            self.woken = True

        record["task"] = self._spawn(settle())
        return True, (future_id, channel)

    def op_future_state(self, task: Task | None, future_id: Any) -> tuple[bool, Any]:
        record = self._futures.get(int(future_id))
        return True, (record["state"] if record else "canceled",)

    def op_future_result(self, task: Task | None, future_id: Any) -> tuple[bool, Any]:
        record = self._futures.get(int(future_id)) or {"state": "canceled", "value": None, "error": None}
        return True, (record["state"], record["value"], record["error"])

    def op_future_cancel(self, task: Task | None, future_id: Any) -> tuple[bool, Any]:
        record = self._futures.get(int(future_id))
        if record is None or record["state"] != "pending":
            return True, (False, errors.Error(errors.INVALID, "future is not pending"))
        record["task"].cancel()
        record.update(state="canceled", error=errors.Error(errors.CANCELED, "future canceled"))
        record["channel"].close()
        return True, (True,)

    # -- context, ids, randomness, logs ----------------------------------------------------------

    def op_ctx_get(self, task: Task | None, key: Any) -> tuple[bool, Any]:
        name = text(key)
        if name not in self.context:
            return True, (None, errors.Error(errors.NOT_FOUND, f"context key {name!r} not found"))
        return True, (self.context[name],)

    def op_ctx_all(self, task: Task | None) -> tuple[bool, Any]:
        return True, (dict(self.context),)

    def op_uuid(self, task: Task | None, version: Any) -> tuple[bool, Any]:
        if text(version) == "v7":
            return True, (str(workflow.uuid7()),)
        return True, (str(workflow.uuid4()),)

    def op_random_bytes(self, task: Task | None, count: Any) -> tuple[bool, Any]:
        return True, (workflow.random().randbytes(stdlib.random_byte_count(count)),)

    def op_random(self, task: Task | None, low: Any = None, high: Any = None) -> tuple[bool, Any]:
        return True, (lua_random(workflow.random().random, low, high),)

    def op_log(self, task: Task | None, level: Any, name: Any, message: Any, fields: Any) -> tuple[bool, Any]:
        values = self._lua(fields)
        shown = " ".join(
            f"{key}={value}" for key, value in sorted((values or {}).items(), key=lambda kv: str(kv[0]))
        )
        line = f"{text(message)} {shown}".strip()
        {"debug": workflow.logger.debug, "warn": workflow.logger.warning, "error": workflow.logger.error}.get(
            text(level), workflow.logger.info
        )("%s", line)
        return True, ()

    # -- the workflow module --------------------------------------------------------------------------

    def op_wf_info(self, task: Task | None) -> tuple[bool, Any]:
        info = workflow.info()
        return True, (
            {
                "workflow_id": info.workflow_id,
                "run_id": info.run_id,
                "workflow_type": info.workflow_type,
                "task_queue": info.task_queue,
                "namespace": info.namespace,
                "attempt": info.attempt,
                "history_length": info.get_current_history_length(),
                "history_size": info.get_current_history_size(),
            },
            None,
        )

    def op_wf_version(self, task: Task | None, change_id: Any, low: int, high: int) -> tuple[bool, Any]:
        """GetVersion on top of patch markers: one marker per version, newest first."""
        name = text(change_id)
        for version in range(int(high), int(low), -1):
            if workflow.patched(f"{name}@v{version}"):
                return True, (version,)
        return True, (int(low),)

    def op_wf_attrs(self, task: Task | None, search: Any, memo: Any) -> tuple[bool, Any]:
        from temporal_bridge.search_attributes import search_attribute_updates

        try:
            if search is not None:
                workflow.upsert_search_attributes(search_attribute_updates(self._lua(search)))
            if memo is not None:
                workflow.upsert_memo(self._lua(memo))
        except errors.Error as err:
            return True, (None, err)
        return True, (True,)

    def op_wf_history(self, task: Task | None, what: Any) -> tuple[bool, Any]:
        info = workflow.info()
        if text(what) == "size":
            return True, (info.get_current_history_size(), None)
        return True, (info.get_current_history_length(), None)
