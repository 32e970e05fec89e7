"""``ProcessHost``: many processes on a small pool of worker threads.

A process is runnable when its mailbox is not empty; the host keeps a run
queue of runnable processes and ``workers`` threads take turns running one
slice of each (a slice handles the whole mailbox batch).  There is no OS
thread per process, except for actors that ask for one because they block.

Cooperative processes (Lua: every wait is a yield, every step a call into
Lua) run on a *lane* of their own instead: ``lua_threads`` threads (1 by
default), each with its own run queue, a process staying on the thread it was
given at spawn.  lupa releases the GIL on every call into Lua and takes it
back on every callback, so Lua processes on several threads hand the GIL over
at nearly every step (a thread switch of tens of microseconds each, for Lua
code that is a small part of the work): ``workers: 32`` ran them five times
slower than ``workers: 1``.  On the lane they cost the same whatever
``workers`` is, and Python actors keep the pool.  What a cooperative process
has to wait on I/O for (a signal to a workflow) runs on the host's I/O
threads (:meth:`ProcessHost.offload`), never on the lane.

Two details keep message passing cheap:

* a process made runnable *by a worker* goes into that worker's "run next"
  slot instead of the shared queue, so a request/reply pair between two
  processes stays on one thread with no wake-up of another (as Go's
  scheduler does); the slot is bounded to keep others from starving;
* the shared queue takes no lock when no worker is idle, and wakes the
  worker that went idle last, so a lightly loaded host keeps one warm thread.

A thread that hands over many items at once (a frame from another node
carries dozens of messages for a few processes) delivers them inside
:func:`deferred_wakes`: an idle thread that its deliveries make runnable is
woken once, when the batch is in, rather than at its first message, when it
would only fight the delivering thread for the GIL until the batch ends.
"""

from __future__ import annotations

import collections
import contextlib
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from actors import codec, errors
from actors._process import Behaviour, Process, run_as
from actors.limits import DEFAULT_LIMITS, Limits
from actors.pid import PID
from actors.seam import ExitCallback, Host, SpawnRequest
from actors.signals import Item, Signal

if TYPE_CHECKING:
    from actors.node import Node

__all__ = ["ProcessHost", "deferred_wakes"]

logger = logging.getLogger("actors.host")

_RUN_NEXT_LIMIT = 64
_STOP = object()
_NOT_STARTED = Behaviour()
_LANE = object()
"""A lane thread's "run next" slot: never empty, so the pool's processes it wakes go to the pool."""
_IO_THREADS = 8
"""Threads that run what cooperative processes wait on I/O for (at most; made on demand)."""
_deferring = threading.local()
"""``queues``: the run queues whose wake-ups this thread holds (:func:`deferred_wakes`), or None."""
_deferring_threads = 0
"""Threads inside :func:`deferred_wakes` now: while 0, ``put`` does not look at ``_deferring``."""
_deferring_lock = threading.Lock()


@contextlib.contextmanager
def deferred_wakes() -> Iterator[None]:
    """Hold the wake-ups that this thread's deliveries owe idle host threads until the block ends.

    Inside the block a delivery still appends to the mailbox and makes its
    process runnable at once (the order of everything is unchanged); only the
    wake-up of an idle worker or Lua thread waits, and each run queue is then
    woken once per process that became runnable (a lane, one thread: once).
    Nothing inside the block may wait for a host thread.  Blocks nest (the
    outermost wakes).
    """
    if getattr(_deferring, "queues", None) is not None:
        yield
        return
    global _deferring_threads
    queues: dict[_RunQueue, int] = {}
    _deferring.queues = queues
    with _deferring_lock:
        _deferring_threads += 1
    try:
        yield
    finally:
        with _deferring_lock:
            _deferring_threads -= 1
        _deferring.queues = None
        for queue, count in queues.items():
            queue.wake(count)


class ProcessHost(Host):
    """A ``process.host``: runs Python actors and Lua processes locally."""

    in_memory = True  # spawn and deliver never wait on I/O

    def __init__(
        self,
        node: Node,
        host_id: str,
        *,
        workers: int | None = None,
        lua_threads: int = 1,
        limits: Limits = DEFAULT_LIMITS,
        io_threads: int = _IO_THREADS,
    ) -> None:
        if workers is not None and workers < 1:
            raise errors.Error(errors.INVALID, f"host {host_id}: workers must be at least 1, got {workers}")
        if isinstance(lua_threads, bool) or not isinstance(lua_threads, int) or lua_threads < 1:
            raise errors.Error(
                errors.INVALID, f"host {host_id}: lua_threads must be at least 1, got {lua_threads!r}"
            )
        self.id = host_id
        self.node = node
        self.workers = workers or max(2, os.cpu_count() or 2)
        self.lua_threads = lua_threads
        """Threads of the lane that runs cooperative (Lua) processes."""
        self.io_threads = max(1, io_threads)
        """Threads that run what its cooperative processes wait on I/O for (:meth:`offload`)."""
        self.limits = limits
        self._procs: dict[PID, Process] = {}
        self._runq = _RunQueue()
        self._lanes = [Lane(self, index) for index in range(lua_threads)]
        self._next_lane = 0
        self._io: ThreadPoolExecutor | None = None
        self._local = threading.local()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._running = False
        self._stopping = False

    # -- lifecycle ----------------------------------------------------------

    def start(self) -> None:
        with self._lock:
            if self._running:
                return
            self._running = True
            self._stopping = False
            for index in range(self.workers):
                thread = threading.Thread(target=self._work, name=f"{self.id}-worker-{index}", daemon=True)
                self._threads.append(thread)
                thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Cancel every process ("scheduler shutdown"), wait, kill the rest, stop threads."""
        with self._lock:
            if not self._running:
                return
            self._stopping = True
        deadline = time.monotonic() + timeout
        now = time.time()
        for proc in list(self._procs.values()):
            proc.deliver((Signal.CANCEL, None, "scheduler shutdown", None, now))
        self._wait_empty(deadline)
        for proc in list(self._procs.values()):
            proc.deliver((Signal.TERMINATE, None))
        self._wait_empty(time.monotonic() + 5.0)
        with self._lock:
            self._running = False
            threads, self._threads = self._threads, []
            io, self._io = self._io, None
        for thread in threads:
            lane = next((lane for lane in self._lanes if lane.thread is thread), None)
            (lane.queue if lane is not None else self._runq).put(_STOP)
        for lane in self._lanes:
            lane.thread = None
        current = threading.current_thread()
        for thread in threads:
            if thread is not current:
                thread.join(timeout=5)
        if io is not None:
            io.shutdown(wait=False, cancel_futures=True)

    def _wait_empty(self, deadline: float) -> None:
        while self._procs and time.monotonic() < deadline:
            time.sleep(0.005)

    @property
    def running(self) -> bool:
        return self._running and not self._stopping

    # -- the Host seam ----------------------------------------------------------

    def spawn(self, request: SpawnRequest) -> PID:
        if not self._running or self._stopping:
            raise errors.Error(errors.UNAVAILABLE, f"host {self.id} is not running")
        node = self.node
        kinds = node.kinds
        if kinds is None:
            raise errors.Error(errors.UNAVAILABLE, f"host {self.id}: the node has no spawnable kinds")
        limits = self.limits
        if len(self._procs) >= limits.max_processes:
            raise errors.Error(
                errors.LIMIT_EXCEEDED,
                f"host {self.id} runs {len(self._procs):,} processes (limit {limits.max_processes:,}): "
                "spawn refused",
                retryable=True,
            )
        pid = node.new_pid(self.id)
        proc = Process(
            node,
            self,
            pid,
            _NOT_STARTED,
            self._submit,
            context=request.context,
            parent=request.parent,
            limits=limits,
        )
        behaviour, entry_id, dedicated = kinds.make_behaviour(request, proc)
        proc.behaviour = behaviour
        proc.entry_id = entry_id
        if behaviour.cooperative:
            lane = self._lane()
            proc.lane = lane
            proc._submit = lane.queue.put
        elif dedicated:
            proc._submit = _DedicatedThread(pid).submit
        parent = request.parent
        if parent is not None:
            if request.link:
                proc.links = {parent}
            if request.monitor:
                proc.watchers = {parent}
        if request.name is not None:
            node.names.register(request.name, pid, proc)
        if request.on_exit is not None:
            on_exit = request.on_exit
            proc.add_exit_callback(lambda done: on_exit(codec.decode(done.result[0]), done.result[1]))
        proc._on_started = request.on_started
        self._procs[pid] = proc
        if request.messages:
            box = proc._box
            for message in request.messages:
                box.append((Signal.MSG, None, message.topic, message.payloads))
        proc.schedule()
        return pid

    def attach(self, behaviour: Behaviour, submit: Any, *, entry_id: str = "") -> Process:
        """Register a process driven by its owner instead of the pool (a test probe).

        ``submit(process)`` is called whenever the process becomes runnable;
        the owner then calls ``process.run_slice()`` on its own thread.
        """
        if not self._running or self._stopping:
            raise errors.Error(errors.UNAVAILABLE, f"host {self.id} is not running")
        pid = self.node.new_pid(self.id)
        proc = Process(self.node, self, pid, behaviour, submit, entry_id=entry_id, limits=self.limits)
        self._procs[pid] = proc
        proc.schedule()
        return proc

    def deliver(self, pid: PID, item: Item) -> bool:
        proc = self._procs.get(pid)
        if proc is None:
            return _answer_unknown(self.node, pid, item)
        return proc.deliver(item)

    def deliver_if_alive(self, pid: PID, item: Item) -> bool:
        """Deliver only to a live process; False (nothing sent) when it is not alive.

        Used for link and monitor requests, which must fail at once for a dead
        PID.  The process object itself answers if it dies in between.
        """
        proc = self._procs.get(pid)
        if proc is None or not proc.alive:
            return False
        proc.deliver(item)
        return True

    def wait(self, pid: PID, timeout: float | None = None) -> tuple[Any, errors.Error | None]:
        """Block the calling thread until ``pid`` ends; its decoded ``(value, error)``.

        Meant for threads outside the pool (a test, a CLI); a process should
        monitor instead of blocking a worker.
        """
        proc = self._procs.get(pid)
        if proc is None:
            raise errors.Error(errors.NOT_FOUND, f"process {pid} not found")
        done = threading.Event()
        proc.add_exit_callback(lambda _proc: done.set())
        if not done.wait(timeout):
            raise errors.Error(errors.TIMEOUT, f"process {pid} still running after {timeout} s")
        assert proc.result is not None
        value, error = proc.result
        return codec.decode(value), error

    def watch(self, pid: PID, callback: ExitCallback) -> None:
        """Call ``callback(value, error)`` once ``pid`` ends (at once if it already has).

        The callback runs on whichever thread ends the process: keep it short
        (deliver a signal).
        """
        proc = self._procs.get(pid)
        if proc is None:
            callback(None, errors.Error(errors.NOT_FOUND, f"process {pid} not found"))
            return

        def ended(done: Process) -> None:
            assert done.result is not None
            callback(codec.decode(done.result[0]), done.result[1])

        proc.add_exit_callback(ended)

    def is_alive(self, pid: PID) -> bool:
        proc = self._procs.get(pid)
        return proc is not None and proc.alive

    # -- bookkeeping ------------------------------------------------------------

    def process(self, pid: PID) -> Process | None:
        """The live process object for ``pid`` (internal use and introspection)."""
        return self._procs.get(pid)

    def forget(self, proc: Process) -> None:
        self._procs.pop(proc.pid, None)

    def pids(self) -> list[PID]:
        """The PIDs of the processes this host runs (``actorflow ps`` lists them)."""
        return list(self._procs)

    def count(self) -> int:
        return len(self._procs)

    # -- scheduling -------------------------------------------------------------

    def _lane(self) -> Lane:
        """The lane thread a new cooperative process runs on (round robin; started on first use)."""
        lanes = self._lanes
        lane = lanes[self._next_lane % len(lanes)]
        self._next_lane += 1
        if lane.thread is None:
            with self._lock:
                if lane.thread is None and self._running:
                    thread = threading.Thread(
                        target=self._run_lane, args=(lane,), name=f"{self.id}-lua-{lane.index}", daemon=True
                    )
                    lane.thread = thread
                    self._threads.append(thread)
                    thread.start()
        return lane

    def offload(
        self,
        process: Process,
        action: Callable[[], Any],
        done: Callable[[Any, BaseException | None], None],
    ) -> None:
        """Run ``action()``, which waits on I/O, on one of the host's I/O threads, as ``process``.

        For a cooperative process: its lane thread runs every process of its
        Lua states and must never wait.  ``done(value, None)`` or
        ``done(None, exception)`` is called on the I/O thread afterwards (post
        the result back to the process).
        """
        with self._lock:
            if self._io is None:
                self._io = ThreadPoolExecutor(max_workers=self.io_threads, thread_name_prefix=f"{self.id}-io")
            io = self._io

        def run() -> None:
            try:
                value = run_as(process, action)
            except BaseException as exc:  # handed to the process, which reports it
                done(None, exc)
            else:
                done(value, None)

        try:
            io.submit(run)
        except RuntimeError:  # the host is stopping: no thread to wait on, so wait here
            run()

    def steal(self, proc: Process) -> bool:
        """Take ``proc`` out of the run queue for the calling thread to run; False if a worker has it.

        Only a thread that is no worker of this host may steal (a worker runs
        what the queue gives it).
        """
        if getattr(self._local, "host", None) is self:
            return False
        return self._runq.remove(proc)

    def _submit(self, proc: Process) -> None:
        local = self._local
        if getattr(local, "host", None) is self and local.next is None:
            local.next = proc
        else:
            self._runq.put(proc)

    def _work(self) -> None:
        local = self._local
        local.host = self
        local.next = None
        waiter = threading.Lock()
        waiter.acquire()
        get = self._runq.get
        put = self._runq.put
        while True:
            proc = get(waiter)
            if proc is _STOP:
                return
            streak = 0
            while proc is not None:
                try:
                    proc.run_slice()
                except Exception:  # pragma: no cover - run_slice handles its own errors
                    logger.exception("worker of %s failed running %s", self.id, proc)
                proc = local.next
                local.next = None
                streak += 1
                if proc is not None and streak >= _RUN_NEXT_LIMIT:
                    put(proc)
                    proc = None

    def _run_lane(self, lane: Lane) -> None:
        """A lane thread: runs the slices of the cooperative processes given to it, one at a time."""
        local = self._local
        local.host = self
        local.next = _LANE  # the pool's processes this thread wakes go to the pool's queue
        waiter = threading.Lock()
        waiter.acquire()
        get = lane.queue.get
        while True:
            proc = get(waiter)
            if proc is _STOP:
                return
            try:
                proc.run_slice()
            except Exception:  # pragma: no cover - run_slice handles its own errors
                logger.exception("Lua thread of %s failed running %s", self.id, proc)


class Lane:
    """One thread of a host's lane for cooperative processes, and its own run queue.

    A cooperative process stays on the lane thread it was given at spawn
    (``Process.lane``), so what it shares with the other processes of that
    thread (a Lua state: ``actors.lua.pool`` gives each lane states of its
    own) is only ever used by one thread.
    """

    __slots__ = ("__weakref__", "host", "index", "queue", "thread")

    def __init__(self, host: ProcessHost, index: int) -> None:
        self.host = host
        self.index = index
        self.queue = _RunQueue()
        self.thread: threading.Thread | None = None

    def __repr__(self) -> str:
        return f"<Lane {self.host.id}/{self.index}>"


class _RunQueue:
    """The host's shared run queue; idle workers are woken last-idle first.

    Waking the worker that went idle most recently (a stack, as Go's and
    Java's fork-join schedulers do) keeps one warm thread doing the work of a
    lightly loaded host instead of workers taking turns: with a FIFO wake-up
    the ask of a thread to an actor paid for a cold thread each time.

    ``put`` takes no lock unless a worker is idle.  No wake-up is lost: a
    worker lists itself as idle and *then* looks at the queue again, while
    ``put`` appends and *then* looks for idle workers, so one of the two sees
    the other (the GIL orders the steps).  Inside :func:`deferred_wakes` the
    wake-up ``put`` owes is counted instead, and :meth:`wake` pays it later.
    """

    __slots__ = ("_idle", "_items", "_lock")

    def __init__(self) -> None:
        self._items: collections.deque[Any] = collections.deque()
        self._idle: list[threading.Lock] = []
        self._lock = threading.Lock()

    def put(self, item: Any) -> None:
        self._items.append(item)
        if self._idle:
            if _deferring_threads:
                held = getattr(_deferring, "queues", None)
                if held is not None:
                    held[self] = held.get(self, 0) + 1
                    return
            self.wake()

    def wake(self, count: int = 1) -> None:
        """Wake up to ``count`` idle threads (fewer when fewer are idle): wake-ups held back."""
        for _ in range(count):
            if not self._idle:
                return
            with self._lock:
                waiter = self._idle.pop() if self._idle else None
            if waiter is None:
                return
            waiter.release()

    def waiting(self) -> bool:
        """True when something waits in the queue (no worker has taken it)."""
        return bool(self._items)

    def remove(self, item: Any) -> bool:
        """Take ``item`` out of the queue; False when it is not there (a worker took it)."""
        try:
            self._items.remove(item)
        except ValueError:
            return False
        return True

    def get(self, waiter: threading.Lock) -> Any:
        """The next item, waiting for it; ``waiter`` is the caller's own lock, held while it runs."""
        items = self._items
        while True:
            try:
                return items.popleft()
            except IndexError:
                pass
            with self._lock:
                self._idle.append(waiter)
            if items:  # put before we were listed: take it, unless a put is already waking us
                with self._lock:
                    if waiter in self._idle:
                        self._idle.remove(waiter)
                        continue
            waiter.acquire()


class _DedicatedThread:
    """Execution for an actor that blocks: its own thread, woken on demand."""

    __slots__ = ("_cond", "_name", "_ready", "_thread")

    def __init__(self, pid: PID) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._ready = False
        self._thread: threading.Thread | None = None
        self._name = f"actor-{pid}"

    def submit(self, proc: Process) -> None:
        with self._cond:
            self._ready = True
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, args=(proc,), name=self._name, daemon=True)
                self._thread.start()
            else:
                self._cond.notify()

    def _run(self, proc: Process) -> None:
        while proc.alive:
            with self._cond:
                while not self._ready:
                    self._cond.wait()
                self._ready = False
            proc.run_slice()


def _answer_unknown(node: Node, pid: PID, item: Item) -> bool:
    """A signal to a PID this host does not have (never had, or forgot).

    Link and monitor requests are answered as Erlang answers them (``noproc``):
    the requester gets its EXIT or LINK_DOWN, with a ``NOT_FOUND`` error, so a
    death is never missed; a pending request is refused (an ``ask`` fails).
    """
    tag = item[0]
    if tag == Signal.MONITOR or tag == Signal.LINK:
        error = errors.Error(errors.NOT_FOUND, f"process {pid} not found")
        reply_tag = Signal.EXIT if tag == Signal.MONITOR else Signal.LINK_DOWN
        node.deliver(item[1], (reply_tag, pid, None, error, time.time()))
    elif tag == Signal.ENVELOPE:
        item[2](pid, item[1])
    return False
