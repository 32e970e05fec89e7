"""The workflow driver: one dynamic Temporal workflow type runs any ``workflow.lua``.

``LuaWorkflow`` is registered as the worker's dynamic workflow; the workflow
type (the entry ID, or ``meta.temporal.workflow.name``) selects the Lua code.
The program runs with the same prelude, router, scheduler, run loop and
operations (:class:`~actors.lua.core.LuaCore`) as a Lua process;
``LuaWorkflow`` is only their :class:`~actors.lua.effects.Effects` through
Temporal:

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
    from actors.events import Cancel, Exit, LinkDown, Message
    from actors.lua.core import LuaCore, RunBudget
    from actors.lua.effects import Done
    from actors.lua.runtime import DEFAULT_MEMORY_LIMIT, LuaState
    from actors.pid import PID, is_pid_text
    from actors.scheduling import DEADLOCK_MESSAGE, DEADLOCKED, DONE, Router, Scheduler, Task
    from temporal_bridge import _workers
    from temporal_bridge._context import CONTEXT_HEADER, FROM_HEADER, OUTGOING
    from temporal_bridge.failures import from_failure, to_application_error
    from temporal_bridge.interceptors import SIGNAL_SENDER, WORKFLOW_HEADERS
    from temporal_bridge.options import activity_options, workflow_options

__all__ = [
    "CANCEL_DEADLINE_SIGNAL",
    "LINK_DOWN_SIGNAL",
    "RELAY_ACTIVITY",
    "TASK_BUDGET",
    "TOPOLOGY_PID",
    "LuaWorkflow",
    "RunawayLua",
]

LINK_DOWN_SIGNAL = "@actorflow.link_down"
"""Signal a linked process's failure is delivered with (payload: error)."""
CANCEL_DEADLINE_SIGNAL = "@actorflow.cancel_deadline"
"""Sent just before a cancel request that has a deadline (Temporal's cancel carries none)."""
RELAY_ACTIVITY = "__actorflow_relay"
"""Local activity that performs process-side operations (send, terminate, cancel)."""
TOPOLOGY_PID = PID("", "topology")
_RELAY_TIMEOUT = timedelta(seconds=30)

TASK_BUDGET = 1.5
"""Seconds one round of a workflow's run loop may run Lua without waiting (below Temporal's
2 s deadlock detector): past it the Lua code is stopped and the workflow task fails."""


class RunawayLua(RuntimeError):
    """Lua code ran past the task budget without waiting: the workflow *task* fails (Temporal
    retries it later); the workflow itself is not failed by a loop the worker stopped."""


def _fail(kind: str, message: str) -> ApplicationError:
    return to_application_error(errors.Error(kind, message, retryable=False))


@workflow.defn(dynamic=True)
class LuaWorkflow:
    """Interprets the ``workflow.lua`` entry named by the workflow type."""

    def __init__(self) -> None:
        self.router = Router()
        self.scheduler = Scheduler(self, self.router)
        self.core: LuaCore | None = None
        self.config: _workers.WorkerConfig | None = None
        self.code: Any = None
        self.context: dict[str, Any] = {}
        self.trap_links = False
        self._cancel_deadline: float | None = None
        self._relay_keys = itertools.count(1)
        self.woken = False
        self.pid = ""
        self._chains: dict[str, asyncio.Task[Any]] = {}
        self._children: dict[str, Any] = {}
        self._forced_failure: errors.Error | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self.budget = RunBudget(self.task_budget)

    task_budget: float | None = TASK_BUDGET
    """The watchdog's budget for this worker's workflows (``None``: no watchdog)."""

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
        config = _workers.lookup(info.namespace, info.task_queue, info.workflow_type)
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
        self.core = LuaCore(state, self.router, self.scheduler, effects=self)
        budget = self.budget
        try:
            budget.start()
            fn = self.core.load(code)
        except errors.Error as err:
            self._check_budget()
            raise to_application_error(errors.Error(err.kind(), err.message(), retryable=False)) from None
        self.scheduler.spawn(self.core.main_task(fn, tuple(values)), main=True)
        while True:
            budget.start()
            status = self.scheduler.advance(until_quiet=False)
            self._check_budget()
            if self._forced_failure is not None:
                raise to_application_error(self._forced_failure)
            if status == DONE:
                break
            if status == DEADLOCKED:
                raise _fail(errors.INTERNAL, DEADLOCK_MESSAGE)
            self.woken = False
            try:
                await workflow.wait_condition(lambda: self.woken or self.router.dirty)
            except asyncio.CancelledError:
                # A cancel request is an event: the workflow decides what to do. As in
                # the runtime: no reason; `at` in unix seconds as every event (spec §5); the
                # deadline (seconds) when one was given.
                deadline, self._cancel_deadline = self._cancel_deadline, None
                self.router.push_event(Cancel(TOPOLOGY_PID, "", deadline, workflow.now().timestamp()))
        value, error = self.core.result_of(*self.scheduler.outcome)  # type: ignore[misc]
        if error is not None:
            raise to_application_error(error)
        return value

    def _check_budget(self) -> None:
        self.budget.stop()
        if self.budget.exceeded:
            raise RunawayLua(
                f"workflow {workflow.info().workflow_id}: its Lua code ran {self.budget.seconds} s without"
                " waiting (a loop that never yields?) and was stopped; the workflow task fails"
            )

    def perform(self, task: Task, op: tuple[Any, ...]) -> tuple[bool, Any] | None:
        """The scheduler's driver: every operation is a Lua one, performed by the core."""
        assert self.core is not None
        return self.core.perform(task, op)

    # -- helpers ------------------------------------------------------------------------------------

    def _later(self, done: Done | None, work: Callable[[], Awaitable[tuple[Any, ...]]]) -> asyncio.Task[Any]:
        """Run ``work`` as a workflow task; ``done(*its values)`` when it finishes (if any)."""

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
            if done is not None:
                done(*values)
            self.woken = True

        return self._spawn(run())

    def _outgoing(self, extra_context: dict[str, Any] | None = None) -> dict[str, Any]:
        context = dict(self.context)
        if extra_context:
            context.update(extra_context)
        return {CONTEXT_HEADER: context or None, FROM_HEADER: self.pid}

    def _chain(self, key: str, done: Done | None, work: Callable[[], Awaitable[tuple[Any, ...]]]) -> None:
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
            if done is not None:
                done(*values)
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

    @staticmethod
    def _unsupported(what: str) -> errors.Error:
        return errors.Error(errors.INVALID, f"{what} is not supported in workflow context", retryable=False)

    # -- Effects: who is running ----------------------------------------------------------------

    in_workflow = True
    node = None

    def pid_text(self) -> str:
        return self.pid

    # -- Effects: clock, randomness, timers, wake-ups ---------------------------------------------

    def now_ns(self) -> int:
        return workflow.time_ns()

    def uniform(self) -> float:
        return workflow.random().random()

    def random_bits(self, count: int) -> int:
        return workflow.random().getrandbits(count)

    def random_bytes(self, count: int) -> bytes:
        return workflow.random().randbytes(count)

    def start_timer(self, seconds: float, fire: Callable[[], None], repeat: bool) -> asyncio.Task[Any]:
        """A durable timer (one ``workflow.sleep`` per tick)."""

        async def tick() -> None:
            while True:
                await workflow.sleep(seconds)
                fire()
                self.woken = True
                if not repeat:
                    return

        return self._spawn(tick())

    def stop_timer(self, handle: asyncio.Task[Any]) -> bool:
        running = not handle.done()
        if running:
            handle.cancel()
        return running

    def post(self, action: Callable[[], None]) -> None:
        """Run ``action()`` now: called from the workflow's own event loop."""
        action()
        self.woken = True

    def terminated(self) -> bool:
        """Asked by the Lua watchdog: has this round of the run loop outlasted its budget?"""
        return self.budget.spent()

    # -- Effects: messages and signals ------------------------------------------------------------

    def send(
        self, dest: str, topic: str, payloads: tuple[Any, ...], done: Done | None
    ) -> tuple[Any, ...] | None:
        if topic.startswith("@"):
            raise errors.Error(errors.INVALID, "cannot send to @ topics")
        if dest == self.pid:
            self.router.push_message(Message(topic, PID.parse(self.pid), payloads))
            return (True,)
        pid = PID.parse(dest) if is_pid_text(dest) else None
        assert self.config is not None
        if pid is not None and pid.node == self.config.client_id:
            outgoing = self._outgoing()
            args = list(payloads)

            async def signal() -> tuple[Any, ...]:
                OUTGOING.set(outgoing)
                handle = workflow.get_external_workflow_handle(pid.uniq)
                await handle.signal(topic, args=args)
                return (True,)

            self._chain(dest, done, signal)
        else:
            self._relay(done, dest, "send", {"topic": topic, "payloads": list(payloads)})
        return (True,) if done is None else None

    def _relay(self, done: Done | None, target: str, action: str, data: dict[str, Any]) -> None:
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

        self._chain(target, done, relay)

    def _stop_target(
        self, done: Done | None, target: str, action: str, data: dict[str, Any]
    ) -> tuple[Any, ...] | None:
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

            self._chain(target, done, cancel)
        else:
            self._relay(done, target, action, data)
        return (True,) if done is None else None

    def terminate(self, dest: str, done: Done | None) -> tuple[Any, ...] | None:
        return self._stop_target(done, dest, "terminate", {})

    def cancel(
        self, dest: str, deadline: float | None, reason: str, done: Done | None
    ) -> tuple[Any, ...] | None:
        return self._stop_target(done, dest, "cancel", {"deadline": deadline, "reason": reason})

    def monitor(self, dest: str) -> None:
        raise self._unsupported("process.monitor")

    def unmonitor(self, dest: str) -> None:
        raise self._unsupported("process.unmonitor")

    def link(self, dest: str) -> None:
        raise self._unsupported("process.link")

    def unlink(self, dest: str) -> None:
        raise self._unsupported("process.unlink")

    def register(self, name: str, pid: str | None) -> None:
        raise self._unsupported("process.registry.register")

    def lookup(self, name: str) -> str:
        raise self._unsupported("process.registry.lookup")

    def unregister(self, name: str) -> bool:
        return False

    # -- Effects: children ----------------------------------------------------------------------------

    def _start_child(
        self, entry_id: str, host: str, spec: dict[str, Any], payloads: tuple[Any, ...]
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
        args = list(payloads)

        async def start() -> Any:
            OUTGOING.set(outgoing)
            return await workflow.start_child_workflow(type_name, args=args, **kwargs)

        return start

    def spawn(
        self,
        entry_id: str,
        host: str,
        spec: dict[str, Any] | None,
        payloads: tuple[Any, ...],
        done: Done | None,
    ) -> None:
        if done is None:
            return None
        start = self._start_child(entry_id, host, spec or {}, payloads)
        client_id = self.config.client_id  # type: ignore[union-attr]

        async def spawn() -> tuple[Any, ...]:
            handle = await start()
            child = PID(host, handle.id, client_id)
            self._children[str(child)] = handle
            self._watch_child(child, handle)
            return (str(child),)

        self._later(done, spawn)
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

    def exec(
        self, entry_id: str, host: str | None, spec: dict[str, Any], payloads: tuple[Any, ...], done: Done
    ) -> None:
        assert self.config is not None
        start = self._start_child(entry_id, host or self.config.worker_id, spec, payloads)

        async def execute() -> tuple[Any, ...]:
            handle = await start()
            try:
                return (await handle, None)
            except Exception as exc:
                return (None, from_failure(exc))

        self._later(done, execute)

    def upgrade(self, entry_id: str | None, payloads: tuple[Any, ...]) -> None:
        """Continue-as-new (raises Temporal's ContinueAsNewError, which ends this run)."""
        assert self.config is not None
        target = self.config.entry_types.get(entry_id) if entry_id is not None else None
        OUTGOING.set(self._outgoing())
        workflow.continue_as_new(args=list(payloads), workflow=target or workflow.info().workflow_type)

    # -- Effects: activities ------------------------------------------------------------------------

    def call(
        self, target: str, executor: dict[str, Any], payloads: tuple[Any, ...], done: Done
    ) -> Callable[[], None]:
        """An activity whose type is the function's entry ID; cancelable."""
        options = activity_options(executor.get("options"))
        outgoing = self._outgoing(executor.get("context"))
        info = workflow.info()
        args = list(payloads)

        async def call() -> tuple[Any, ...]:
            OUTGOING.set(outgoing)
            try:
                value = await workflow.execute_activity(
                    target,
                    args=args,
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

        return self._later(done, call).cancel

    # -- Effects: logs ---------------------------------------------------------------------------------

    def logger(self, entry_id: str, name: str) -> Any:
        """Temporal's workflow logger: quiet while a history replays."""
        return workflow.logger

    # -- Effects: the workflow module --------------------------------------------------------------------

    def workflow_info(self) -> dict[str, Any]:
        info = workflow.info()
        return {
            "workflow_id": info.workflow_id,
            "run_id": info.run_id,
            "workflow_type": info.workflow_type,
            "task_queue": info.task_queue,
            "namespace": info.namespace,
            "attempt": info.attempt,
            "history_length": info.get_current_history_length(),
            "history_size": info.get_current_history_size(),
        }

    def workflow_version(self, change_id: str, low: int, high: int) -> int:
        """GetVersion on top of patch markers: one marker per version, newest first."""
        for version in range(high, low, -1):
            if workflow.patched(f"{change_id}@v{version}"):
                return version
        return low

    def workflow_attrs(self, search: Any, memo: Any) -> None:
        from temporal_bridge.search_attributes import search_attribute_updates

        if search is not None:
            workflow.upsert_search_attributes(search_attribute_updates(search))
        if memo is not None:
            workflow.upsert_memo(memo)

    def workflow_history(self, what: str) -> int:
        info = workflow.info()
        if what == "size":
            return info.get_current_history_size()
        return info.get_current_history_length()
