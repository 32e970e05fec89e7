"""Workflows behind the Host seam: the same PIDs, links and monitors as processes.

* :class:`WorkflowHost` (one per ``temporal.worker``) spawns: a spawn starts a
  workflow on the worker's task queue and returns
  ``{client@worker|workflow_id}``.
* :class:`TemporalPeer` (one per ``temporal.client``) receives everything sent
  to those PIDs: a message becomes a signal (the sender rides in a header),
  terminate and cancel reach Temporal, and a monitor or a link becomes a
  watcher that turns the workflow's close into an EXIT (or LINK_DOWN) event in
  the watcher's mailbox, even when the monitor was set after the start or the
  workflow has already closed.  Only the workflow's close ends a watch: while
  Temporal cannot be reached the watcher asks again (with backoff) for as
  long as the watch is wanted.

A message's payloads are encoded once, by ``node.send``: the encoded bytes
travel as the signal's Temporal payloads (see :mod:`temporal_bridge.converter`).

:meth:`TemporalPeer.update` and :meth:`TemporalPeer.query` send a workflow a
Temporal update or query (:mod:`temporal_bridge.updates` is their public face).

Calls come from process threads; the Temporal client lives on the bridge's
private loop, so they are handed over and, where the caller needs the
answer (a start, a signal), awaited.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import itertools
import logging
import threading
import time
import uuid
import weakref
from collections.abc import AsyncIterator, Sequence
from typing import Any

from temporalio.client import Client
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.service import RPCError, RPCStatusCode

from actors import codec, errors
from actors.loopthread import LoopThread
from actors.pid import PID
from actors.seam import ExitCallback, Host, SpawnRequest
from actors.signals import Item, Signal
from temporal_bridge import _workers
from temporal_bridge._context import CONTEXT_HEADER, FROM_HEADER, OUTGOING
from temporal_bridge.failures import from_failure
from temporal_bridge.options import workflow_options
from temporal_bridge.workflow import CANCEL_DEADLINE_SIGNAL, LINK_DOWN_SIGNAL

__all__ = ["TemporalPeer", "WorkflowHost", "peer_for"]

logger = logging.getLogger("temporal_bridge.host")

Outcome = tuple[Any, errors.Error | None]

TRANSIENT_STATUSES = frozenset(
    {
        RPCStatusCode.UNAVAILABLE,
        RPCStatusCode.DEADLINE_EXCEEDED,
        RPCStatusCode.UNKNOWN,
        RPCStatusCode.INTERNAL,
        RPCStatusCode.RESOURCE_EXHAUSTED,
        RPCStatusCode.ABORTED,
        RPCStatusCode.CANCELLED,
    }
)
"""RPC failures that say nothing about the workflow (the server is down or busy):
a watcher asks again.  Any other answer (``NOT_FOUND``: no such workflow) is final."""

WATCH_RETRY_FIRST = 0.2
WATCH_RETRY_MAX = 5.0
"""Seconds between a watcher's tries while Temporal is unreachable: doubling, bounded."""


_PEERS: weakref.WeakKeyDictionary[Any, dict[str, TemporalPeer]] = weakref.WeakKeyDictionary()
"""Each node's Temporal peers, by client ID (the node keeps its routing private)."""


def peer_for(node: Any, pid: PID) -> TemporalPeer:
    """The peer that reaches workflow ``pid`` from ``node``; ``INVALID`` for a non-workflow PID."""
    peer = _PEERS.get(node, {}).get(pid.node) if pid.node else None
    if peer is None:
        raise errors.Error(
            errors.INVALID, f"{pid} is not the PID of a workflow (no temporal.client {pid.node or '-'!r})"
        )
    return peer


class TemporalPeer(Host):
    """Routes signals and watchers for the workflows of one ``temporal.client``."""

    names_are_local = False
    in_memory = False  # every spawn and signal is a call to Temporal

    def __init__(
        self,
        node: Any,
        client_id: str,
        client: Client,
        loop: LoopThread,
        *,
        rpc_timeout: float = 30.0,
        time_skipping: Any = None,
    ) -> None:
        self.id = client_id
        self.time_skipping = time_skipping
        """The test environment, when time skips while somebody waits for a result."""
        self._skip_waiters = 0
        self._skip_unlocked: contextlib.AsyncExitStack | None = None
        self._skip_lock = asyncio.Lock()
        self.node = node
        self.client = client
        self.loop = loop
        self.rpc_timeout = rpc_timeout
        self._watchers: dict[tuple[str, str, str], concurrent.futures.Future[None]] = {}
        self._lock = threading.Lock()
        _PEERS.setdefault(node, {})[client_id] = self

    # -- lifecycle ----------------------------------------------------------------------------

    def stop(self, timeout: float = 10.0) -> None:
        with self._lock:
            watchers, self._watchers = self._watchers, {}
        for future in watchers.values():
            future.cancel()

    # -- the Host seam --------------------------------------------------------------------------

    def is_alive(self, pid: PID) -> bool:
        return True  # as in the runtime: links and monitors to workflows always succeed

    def deliver(self, pid: PID, item: Item) -> bool:
        tag = item[0]
        if tag == Signal.MSG:
            # The payloads are encoded already (node.send): they become the signal's
            # Temporal payloads as they are, with no second encoding.
            self._signal(pid, item[2], list(item[3]), item[1])
        elif tag == Signal.TERMINATE:
            self._call(self.client.get_workflow_handle(pid.uniq).terminate(reason="process.terminate"))
        elif tag == Signal.CANCEL:
            if item[3] is not None:  # the deadline: the workflow's CANCEL event carries it
                self._signal(pid, CANCEL_DEADLINE_SIGNAL, [item[3]], item[1], quiet=True)
            self._call(self.client.get_workflow_handle(pid.uniq).cancel())
        elif tag == Signal.MONITOR:
            self.watch_for(item[1], pid, "monitor")
        elif tag == Signal.DEMONITOR:
            self._unwatch("monitor", item[1], pid)
        elif tag == Signal.LINK:
            self.watch_for(item[1], pid, "link")
        elif tag == Signal.UNLINK or tag == Signal.LINK_GONE:
            self._unwatch("link", item[1], pid)
        elif tag == Signal.LINK_DOWN:
            # A linked process failed: failure propagates into the workflow.
            self._unwatch("link", item[1], pid)
            self._signal(pid, LINK_DOWN_SIGNAL, [item[3]], item[1], quiet=True)
        elif tag == Signal.ENVELOPE:
            item[2](pid, item[1])  # a request for a Python actor: refused
            return False
        return True

    def watch(self, pid: PID, callback: ExitCallback, run_id: str | None = None) -> None:
        """Call ``callback(value, error)`` when the workflow closes (at once if it has)."""

        async def run() -> None:
            value, error = await self._outcome(pid, run_id)
            callback(value, error)

        self.loop.submit(run())

    def wait(self, pid: PID, timeout: float | None = None) -> Outcome:
        try:
            return self.loop.run(self._outcome(pid, None), timeout)
        except concurrent.futures.TimeoutError:
            raise errors.Error(errors.TIMEOUT, f"workflow {pid} still running after {timeout} s") from None

    # -- watchers -------------------------------------------------------------------------------

    def watch_for(self, watcher: PID, pid: PID, kind: str, run_id: str | None = None) -> None:
        """A monitor (EXIT on close) or a link (LINK_EXIT on completion, LINK_DOWN on failure).

        A link to a workflow reports its completion (the Lua ``EXIT`` event), where a
        link to a process that ends normally is dropped silently: the watcher's
        process core gives a ``LINK_EXIT`` an Exit event, whatever host sent it.
        """
        key = (kind, str(watcher), pid.uniq)
        node = self.node

        async def run() -> None:
            value, error = await self._outcome(pid, run_id)
            with self._lock:
                if self._watchers.get(key) is not future_box[0]:
                    return  # unwatched meanwhile
                del self._watchers[key]
            at = time.time()
            if kind == "monitor":
                node.deliver(watcher, (Signal.EXIT, pid, codec.encode(value), error, at))
            elif error is None:
                node.deliver(watcher, (Signal.LINK_EXIT, pid, codec.encode(value), None, at))
            else:
                node.deliver(watcher, (Signal.LINK_DOWN, pid, None, error, at))

        future_box: list[concurrent.futures.Future[None]] = []
        with self._lock:
            if key in self._watchers:
                return
            future = self.loop.submit(run())
            future_box.append(future)
            self._watchers[key] = future

    def _unwatch(self, kind: str, watcher: PID, pid: PID) -> None:
        with self._lock:
            future = self._watchers.pop((kind, str(watcher), pid.uniq), None)
        if future is not None:
            future.cancel()

    async def _outcome(self, pid: PID, run_id: str | None) -> Outcome:
        """How the workflow closed: its result, or the error it closed with.

        Only the close is an outcome.  A transport or server error while waiting
        (the server restarting, a dropped connection) says nothing about the
        workflow: wait and ask again, doubling the pause up to
        ``WATCH_RETRY_MAX``, for as long as the caller waits (it cancels us).
        """
        handle = self.client.get_workflow_handle(pid.uniq, run_id=run_id)
        pause = WATCH_RETRY_FIRST
        failures = 0
        while True:
            try:
                if self.time_skipping is not None:
                    async with self._time_skipping():
                        return await handle.result(follow_runs=True), None
                return await handle.result(follow_runs=True), None
            except RPCError as exc:
                if exc.status not in TRANSIENT_STATUSES:
                    return None, from_failure(exc)
                failures += 1
                log = logger.warning if failures == 1 else logger.debug
                log("watching workflow %s: %s; asking again in %.1f s", pid, exc, pause)
            except Exception as exc:
                return None, from_failure(exc)
            await asyncio.sleep(pause)
            pause = min(pause * 2, WATCH_RETRY_MAX)

    @contextlib.asynccontextmanager
    async def _time_skipping(self) -> AsyncIterator[None]:
        """Time skips while somebody waits for a workflow's close: one unlock for all the waiters.

        The time-skipping server counts a single lock: each workflow task holds
        it until it completes, each unlock takes one off.  An unlock per waiter
        (two waiters of one workflow, eight workflows started together) would
        cancel the locks of tasks still running, and time would skip past their
        timeouts: they ended "Workflow timed out" before their first task ran.
        """
        assert self.time_skipping is not None
        self._skip_waiters += 1  # counted at once (one loop thread): a cancelled wait still counts right
        try:
            async with self._skip_lock:
                if self._skip_unlocked is None:
                    stack = contextlib.AsyncExitStack()
                    await stack.enter_async_context(self.time_skipping.time_skipping_unlocked())
                    self._skip_unlocked = stack
            yield
        finally:
            self._skip_waiters -= 1
            if self._skip_waiters == 0:
                async with self._skip_lock:
                    if self._skip_waiters == 0 and self._skip_unlocked is not None:
                        stack, self._skip_unlocked = self._skip_unlocked, None
                        await stack.aclose()  # locked again: nobody waits any more

    # -- updates and queries -------------------------------------------------------------------------

    def update(self, pid: PID, name: str, args: Sequence[Any] = (), *, timeout: float | None = None) -> Any:
        """Send the workflow the Temporal update ``name`` and wait for its outcome.

        The workflow sees a message on topic ``name`` from ``{update|<id>}``;
        its ``ok`` reply is the value returned, ``nak`` (a rejection) and
        ``error`` are raised as :class:`~actors.errors.Error`.  ``timeout``
        (default: the peer's ``rpc_timeout``) bounds the wait: ``TIMEOUT``.
        """
        return self._call(self.update_async(pid, name, args), timeout)

    async def update_async(self, pid: PID, name: str, args: Sequence[Any] = ()) -> Any:
        """:meth:`update` on the bridge's loop (errors as temporalio raises them)."""
        handle = self.client.get_workflow_handle(pid.uniq)
        return await handle.execute_update(name, args=list(args))

    def query(self, pid: PID, name: str, args: Sequence[Any] = (), *, timeout: float | None = None) -> Any:
        """Ask the workflow the query ``name`` (every Lua workflow answers ``pid`` and ``state``)."""
        return self._call(self.query_async(pid, name, args), timeout)

    async def query_async(self, pid: PID, name: str, args: Sequence[Any] = ()) -> Any:
        handle = self.client.get_workflow_handle(pid.uniq)
        return await handle.query(name, args=list(args))

    # -- RPCs -------------------------------------------------------------------------------------------

    def _call(self, coro: Any, timeout: float | None = None) -> Any:
        try:
            return self.loop.run(coro, self.rpc_timeout if timeout is None else timeout)
        except errors.Error:
            raise
        except concurrent.futures.TimeoutError:
            raise errors.Error(errors.TIMEOUT, "Temporal did not answer in time", retryable=True) from None
        except Exception as exc:
            raise from_failure(exc) from None

    def _signal(
        self, pid: PID, topic: str, payloads: list[Any], sender: PID | None, *, quiet: bool = False
    ) -> None:
        outgoing = {FROM_HEADER: str(sender)} if sender is not None else None

        async def signal() -> None:
            OUTGOING.set(outgoing)
            await self.client.get_workflow_handle(pid.uniq).signal(topic, args=payloads)

        try:
            self._call(signal())
        except errors.Error:
            if not quiet:
                raise


class WorkflowHost(Host):
    """A ``temporal.worker``: spawning on it starts a workflow on its task queue."""

    names_are_local = False
    in_memory = False  # every spawn and signal is a call to Temporal

    def __init__(self, peer: TemporalPeer, config: _workers.WorkerConfig) -> None:
        self.id = config.worker_id
        self.peer = peer
        self.config = config
        self.task_queue = config.task_queue
        self._prefix = str(uuid.uuid4())
        self._counter = itertools.count(1)

    def spawn(self, request: SpawnRequest) -> PID:
        if not isinstance(request.target, str):
            raise errors.Error(
                errors.INVALID, "only workflow.lua entries can be spawned on a temporal.worker"
            )
        type_name = self.config.entry_types.get(request.target)
        if type_name is None:
            raise errors.Error(errors.NOT_FOUND, f"workflow entry {request.target!r} not found")
        options = workflow_options(request.options)
        workflow_id = options.id or request.name or f"{self._prefix}_0x{next(self._counter):05x}"
        explicit = bool(options.id or request.name)
        policy = options.id_conflict_policy
        if policy is None:
            if options.execution_error_when_already_started:
                policy = WorkflowIDConflictPolicy.FAIL
            elif explicit:
                policy = WorkflowIDConflictPolicy.USE_EXISTING
        messages = [(message.topic, list(message.payloads)) for message in request.messages]
        with_start = (
            messages[0] if messages and policy in (None, WorkflowIDConflictPolicy.USE_EXISTING) else None
        )
        rest = messages[1:] if with_start is not None else messages
        kwargs = options.start_kwargs(workflow_id, options.task_queue or self.task_queue)
        kwargs["start_delay"] = options.start_delay
        kwargs["request_eager_start"] = options.enable_eager_start
        if policy is not None:
            kwargs["id_conflict_policy"] = policy
        if with_start is not None:
            kwargs["start_signal"] = with_start[0]
            kwargs["start_signal_args"] = with_start[1]
        outgoing = {
            CONTEXT_HEADER: dict(request.context) if request.context else None,
            FROM_HEADER: str(request.parent) if request.parent is not None else None,
        }

        async def start() -> Any:
            OUTGOING.set(outgoing)
            return await self.peer.client.start_workflow(type_name, args=list(request.args), **kwargs)

        handle = self.peer._call(start())
        pid = PID(self.id, workflow_id, self.peer.id)
        for topic, payloads in rest:
            self.peer._signal(pid, topic, payloads, request.parent)
        run_id = handle.result_run_id or handle.run_id
        if request.parent is not None and request.monitor:
            self.peer.watch_for(request.parent, pid, "monitor", run_id)
        if request.parent is not None and request.link:
            self.peer.watch_for(request.parent, pid, "link", run_id)
        if request.on_exit is not None:
            self.peer.watch(pid, request.on_exit, run_id)
        if request.on_started is not None:
            request.on_started(pid)  # started once Temporal accepted it: its run is durable
        return pid

    def deliver(self, pid: PID, item: Item) -> bool:
        return self.peer.deliver(pid, item)

    def is_alive(self, pid: PID) -> bool:
        return True

    def watch(self, pid: PID, callback: ExitCallback) -> None:
        self.peer.watch(pid, callback)

    def wait(self, pid: PID, timeout: float | None = None) -> Outcome:
        return self.peer.wait(pid, timeout)
