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
``process.upgrade``         continue-as-new
Temporal update ``U``       a message on topic ``U`` from ``{update|<id>}``;
                            the replies ``ack``/``nak``/``ok``/``error``
                            accept, reject or complete it
queries ``pid``, ``state``  answered by the driver
==========================  =================================================

Everything is deterministic: a replay on another worker process gives the
same commands (a fixed Lua string hash seed makes ``pairs()`` order stable).

**Updates.**  Temporal runs an update's validator before it accepts the
update, and a rejected update leaves no trace in the history.  The Lua
program decides (``nak`` rejects), so the validator delivers the message and
runs the program right there, as one round of the run loop in which every
operation that would leave a trace (a Temporal command, a timer, a send,
anything the history records) is *parked* rather than performed.  If the
program answered ``nak`` and nothing was parked, the update is rejected;
otherwise it is accepted and the update handler performs the parked
operations, in order, at once.  On a replay (no validator) the handler runs
that same round with the same parking, at the same point of the same
workflow task, so both runs issue the same commands.  What the round cannot
see is a plain Lua variable the code changed before its ``nak``: the code
that decides to reject must not change state (Temporal's rule for
validators), or a replay may differ.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RawValue
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from actors import errors
    from actors.events import Cancel, Exit, LinkDown, Message
    from actors.lua.core import LUA_OP, LuaCore, RunBudget
    from actors.lua.effects import Done
    from actors.lua.runtime import DEFAULT_MEMORY_LIMIT, LuaState, text
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
    "QUERIES",
    "RELAY_ACTIVITY",
    "TASK_BUDGET",
    "TOPOLOGY_PID",
    "UPDATE_HOST",
    "UPDATE_REPLIES",
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

UPDATE_HOST = "update"
"""The host part of the PID a Temporal update's message comes from: ``{update|<update ID>}``."""
UPDATE_REPLIES = ("ack", "nak", "ok", "error")
"""What a workflow may send an update's sender: accept, reject, complete, fail."""
QUERIES = ("pid", "state")
"""The queries every Lua workflow answers (spec §12.10)."""

_PARKED = frozenset(
    {
        "terminate",
        "cancel",
        "spawn",
        "exec",
        "upgrade",
        "call",
        "call_async",
        "future_cancel",
        "sleep",
        "after",
        "timer",
        "timer_stop",
        "timer_reset",
        "wf_exec",
        "wf_version",
        "wf_attrs",
    }
)
"""Operations an update's first round parks: each leaves a trace in the history (a command,
a timer, a patch marker) or starts work that does (``send`` too, except a reply to an update)."""
_TRACES = frozenset({"set_options", "listen", "inbox", "events", "unlisten", "chan_close"})
"""Operations the first round performs but that change the program's state: after one of
them a ``nak`` can no longer reject (the update is accepted and fails instead)."""


class _Update:
    """A Temporal update the Lua program is answering."""

    __slots__ = ("accepted", "done", "error", "id", "parked", "rejection", "traced", "value")

    def __init__(self, update_id: str) -> None:
        self.id = update_id
        self.accepted = False
        self.done = False
        self.value: Any = None
        self.error: errors.Error | None = None
        self.rejection: errors.Error | None = None
        """Set when the program answered ``nak`` before ``ack``."""
        self.parked: list[tuple[Task, tuple[Any, ...]]] = []
        """Operations of the first round, to perform once the update is accepted."""
        self.traced = False
        """The first round did something a rejected update could not take back."""

    def finish(self, value: Any = None, error: errors.Error | None = None) -> None:
        self.done, self.value, self.error = True, value, error


TASK_BUDGET = 1.5
"""Seconds one round of a workflow's run loop may run Lua without waiting (below Temporal's
2 s deadlock detector): past it the Lua code is stopped and the workflow task fails."""


_REPLAY_LOGGER = workflow.LoggerAdapter(logging.getLogger("temporalio.workflow"), None)
_REPLAY_LOGGER.log_during_replay = True


class RunawayLua(RuntimeError):
    """Lua code ran past the task budget without waiting: the workflow *task* fails (Temporal
    retries it later); the workflow itself is not failed by a loop the worker stopped."""

    without_stack = True
    """Its Python stack is the bridge's, not the workflow's: left out of the failure and the logs."""


class _OneLineForRunawayLua(logging.Filter):
    """temporalio logs every failed workflow task with its Python traceback; for a Lua loop the
    worker stopped the message says everything: one warning line instead (issue 12, defect 7)."""

    def filter(self, record: logging.LogRecord) -> bool:
        failure = record.exc_info[1] if record.exc_info else None
        if isinstance(failure, RunawayLua):
            record.msg, record.args = f"{record.getMessage()}: {failure}", None
            record.exc_info = record.exc_text = None
        return True


logging.getLogger("temporalio.worker._workflow_instance").addFilter(_OneLineForRunawayLua())


def _fail(kind: str, message: str) -> ApplicationError:
    return to_application_error(errors.Error(kind, message, retryable=False))


def _reply_error(value: Any, kind: str, default: str) -> errors.Error:
    """The error a ``nak`` or ``error`` reply carries: an error object as it is, else its text."""
    if isinstance(value, errors.Error):
        return value
    return errors.Error(kind, default if value is None else str(value), retryable=False)


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
        self._updates: dict[str, _Update] = {}
        self._round: _Update | None = None
        """The update whose first round is running (its operations are parked)."""
        self._after_update = False
        """Parked operations are being performed from an update handler."""
        self._continue_as_new: tuple[str | None, tuple[Any, ...]] | None = None
        self._random: Any = None

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
        if config.task_budget is not None:  # worker_options.deadlock_detection_timeout
            self.budget = RunBudget(config.task_budget)
        headers = WORKFLOW_HEADERS.get() or {}
        context = headers.get(CONTEXT_HEADER)
        self.context = dict(context) if isinstance(context, dict) else {}
        self.pid = str(PID(config.worker_id, info.workflow_id, config.client_id))
        self._random = workflow.random()  # the same object all run long (reseeded in place)
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
            if self._continue_as_new is not None:  # asked for while an update was handled
                self._upgrade_now(*self._continue_as_new)
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
        """The scheduler's driver: every operation is a Lua one, performed by the core.

        During an update's first round, operations that leave a trace are parked
        (see the module docstring) and the task waits until they are performed.
        """
        assert self.core is not None
        update = self._round
        if update is not None and op[0] == LUA_OP:
            name = op[1]
            if name in _PARKED or (name == "send" and not self._is_update_reply(op[2])):
                update.parked.append((task, op))
                return None
            if name in _TRACES:
                update.traced = True
        return self.core.perform(task, op)

    # -- updates and queries ----------------------------------------------------------------------

    @workflow.update(dynamic=True)
    async def on_update(self, name: str, args: Sequence[RawValue]) -> Any:
        """A Temporal update: a message to the program, answered by its replies."""
        update_id = workflow.current_update_info().id  # type: ignore[union-attr]
        update = self._updates.get(update_id)
        if update is None:  # no validator ran (a replay), or it ran before the program started
            if self.core is None:
                await workflow.wait_condition(lambda: self.core is not None)
            update = self._first_round(update_id, name, args)
        self._perform_parked(update)
        if not update.done:
            await workflow.wait_condition(lambda: update.done)
        self._updates.pop(update_id, None)
        if update.error is not None:
            raise to_application_error(update.error)
        return update.value

    @on_update.validator
    def validate_update(self, name: str, args: Sequence[RawValue]) -> None:
        """Run the program's first round on the update: a ``nak`` with no trace rejects it."""
        if name.startswith("@"):
            raise _fail(errors.INVALID, f"cannot send an update to @ topics ({name!r} is reserved)")
        if self.scheduler.outcome is not None:
            raise _fail(errors.INVALID, "the workflow's program has ended: nobody can answer the update")
        if self.core is None:
            return  # accepted: the handler delivers it once the program runs
        update_id = workflow.current_update_info().id  # type: ignore[union-attr]
        update = self._first_round(update_id, name, args)
        if update.rejection is not None and not update.accepted and not update.traced and not update.parked:
            del self._updates[update_id]
            raise to_application_error(update.rejection)

    def _first_round(self, update_id: str, name: str, args: Sequence[RawValue]) -> _Update:
        """Deliver the update's message and run one round of the program, parking what leaves a trace."""
        converter = workflow.payload_converter()
        values = tuple(converter.from_payload(arg.payload) for arg in args)
        update = self._updates[update_id] = _Update(update_id)
        spawned = self.scheduler.spawned
        self.router.push_message(Message(name, PID(UPDATE_HOST, update_id), values))
        self._round = update
        try:
            self.budget.start()  # a runaway round is stopped; the run loop then fails the task
            self.scheduler.advance(until_quiet=False)
        finally:
            self.budget.stop()
            self._round = None
        if self.scheduler.spawned != spawned:  # a coroutine.spawn
            update.traced = True
        self.woken = True  # the run loop looks at how the program stands
        return update

    def _perform_parked(self, update: _Update) -> None:
        """Perform the first round's parked operations, in order (the update is accepted)."""
        parked, update.parked = update.parked, []
        if not parked:
            return
        assert self.core is not None
        self._after_update = True
        try:
            for task, op in parked:
                completed = self.core.perform(task, op)
                if completed is not None:
                    ok, value = completed
                    if ok:
                        self.scheduler.wake(task, value)
                    else:
                        self.scheduler.wake(task, exc=value)
        finally:
            self._after_update = False
        self.woken = True

    def _is_update_reply(self, args: tuple[Any, ...]) -> bool:
        destination = text(args[0]) if args else ""
        if not is_pid_text(destination):
            return False
        try:
            pid = PID.parse(destination)
        except errors.Error:
            return False
        return not pid.node and pid.host == UPDATE_HOST

    def _reply(self, update_id: str, topic: str, payloads: tuple[Any, ...]) -> tuple[Any, ...]:
        """The program answered an update: ``ack``, ``nak``, ``ok`` or ``error``."""
        update = self._updates.get(update_id)
        if update is None or update.done:
            raise errors.Error(errors.NOT_FOUND, f"update {update_id!r} is not waiting for a reply")
        value = None if not payloads else payloads[0] if len(payloads) == 1 else list(payloads)
        if topic == "ack":
            update.accepted = True
        elif topic == "nak":
            reason = _reply_error(value, errors.INVALID, "update rejected")
            if not update.accepted:
                update.rejection = reason
            update.finish(error=reason)
        elif topic == "ok":
            update.finish(value=value)
        elif topic == "error":
            update.finish(error=_reply_error(value, errors.INTERNAL, "update failed"))
        else:
            raise errors.Error(
                errors.INVALID,
                f"an update's sender takes the replies {', '.join(UPDATE_REPLIES)}, not {topic!r}",
            )
        return (True,)

    @workflow.query(dynamic=True)
    def on_query(self, name: str, args: Sequence[RawValue]) -> Any:
        """``pid``: the workflow ID; ``state``: a map (empty: the program's state is its own)."""
        if name == "pid":
            return workflow.info().workflow_id
        if name == "state":
            return {}
        raise _fail(errors.NOT_FOUND, f"unknown query {name!r}: a Lua workflow answers {', '.join(QUERIES)}")

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

    def _rng(self) -> Any:
        """The workflow's seeded randomness (recorded, replayed): using it is a trace."""
        if self._round is not None:
            self._round.traced = True
        return self._random if self._random is not None else workflow.random()

    def uniform(self) -> float:
        return self._rng().random()

    def random_bits(self, count: int) -> int:
        return self._rng().getrandbits(count)

    def random_bytes(self, count: int) -> bytes:
        return self._rng().randbytes(count)

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
        if pid is not None and not pid.node and pid.host == UPDATE_HOST:
            return self._reply(pid.uniq, topic, payloads)
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

    def register(self, name: str, pid: str | None, scope: str, done: Done | None) -> None:
        raise self._unsupported("process.registry.register")

    def lookup(self, name: str) -> str:
        raise self._unsupported("process.registry.lookup")

    def unregister(self, name: str, scope: str, done: Done | None) -> tuple[Any, ...]:
        return (False,)

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
        if options.versioning_intent is not None:
            kwargs["versioning_intent"] = options.versioning_intent
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
        """Continue-as-new (raises Temporal's ContinueAsNewError, which ends this run).

        From an update handler (a parked ``process.upgrade``) it is left to the run
        loop, the only place Temporal accepts it from; the calling task never resumes.
        """
        if self._after_update:
            self._continue_as_new = (entry_id, payloads)
            self.woken = True
            return
        self._upgrade_now(entry_id, payloads)

    def _upgrade_now(self, entry_id: str | None, payloads: tuple[Any, ...]) -> None:
        assert self.config is not None
        target = self.config.entry_types.get(entry_id) if entry_id is not None else None
        OUTGOING.set(self._outgoing())
        workflow.continue_as_new(args=list(payloads), workflow=target or workflow.info().workflow_type)

    # -- Effects: activities ------------------------------------------------------------------------

    def call(
        self, target: str, executor: dict[str, Any], payloads: tuple[Any, ...], done: Done
    ) -> Callable[[], None]:
        """An activity whose type is the function's entry ID; cancelable.

        An entry declared with ``meta.temporal.activity.worker`` runs on that
        worker's task queue (``local: true``: as a local activity, in this
        worker, which must be that one); any other target on this workflow's
        queue, where the dynamic activity runs it.
        """
        assert self.config is not None
        options = activity_options(executor.get("options"))
        outgoing = self._outgoing(executor.get("context"))
        declared = self.config.activities.get(target)
        args = list(payloads)
        if declared is not None and declared.local:
            start = self._local_activity(target, declared.worker_id, options, args)
        else:
            queue = options.task_queue or (declared.task_queue if declared else workflow.info().task_queue)

            def start() -> Awaitable[Any]:
                return workflow.execute_activity(
                    target,
                    args=args,
                    task_queue=queue,
                    activity_id=options.activity_id,
                    schedule_to_close_timeout=options.schedule_to_close_timeout,
                    schedule_to_start_timeout=options.schedule_to_start_timeout,
                    start_to_close_timeout=options.start_to_close_timeout,
                    heartbeat_timeout=options.heartbeat_timeout,
                    retry_policy=options.retry_policy,
                    cancellation_type=options.cancellation_type,
                    summary=options.summary,
                    **({"priority": options.priority} if options.priority is not None else {}),
                )

        async def call() -> tuple[Any, ...]:
            OUTGOING.set(outgoing)
            try:
                value = await start()
            except Exception as exc:
                return (None, from_failure(exc))
            return (value, None)

        return self._later(done, call).cancel

    def _local_activity(
        self, target: str, worker_id: str, options: Any, args: list[Any]
    ) -> Callable[[], Awaitable[Any]]:
        """A call to a ``local: true`` activity: it runs in this worker, so it must be registered here."""
        assert self.config is not None
        if worker_id != self.config.worker_id:
            raise errors.Error(
                errors.NOT_FOUND,
                f"{target} is a local activity of worker {worker_id}: only workflows on that worker can "
                f"call it (this one runs on {self.config.worker_id})",
                retryable=False,
            )
        for name, value in (
            ("task_queue", options.task_queue),
            ("heartbeat_timeout", options.heartbeat_timeout),
            ("priority", options.priority),
        ):
            if value is not None:
                raise errors.Error(
                    errors.INVALID, f"option activity.{name} does not apply to {target}, a local activity"
                )

        def start() -> Awaitable[Any]:
            return workflow.execute_local_activity(
                target,
                args=args,
                activity_id=options.activity_id,
                schedule_to_close_timeout=options.schedule_to_close_timeout,
                schedule_to_start_timeout=options.schedule_to_start_timeout,
                start_to_close_timeout=options.start_to_close_timeout,
                retry_policy=options.retry_policy,
                cancellation_type=options.cancellation_type,
                summary=options.summary,
            )

        return start

    # -- Effects: logs ---------------------------------------------------------------------------------

    def logger(self, entry_id: str, name: str) -> Any:
        """Temporal's workflow logger: quiet while a history replays (unless the worker's
        ``worker_options.enable_logging_in_replay``)."""
        if self.config is not None and self.config.log_in_replay:
            return _REPLAY_LOGGER
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
