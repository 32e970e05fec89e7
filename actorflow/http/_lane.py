"""The handlers' lane: an HTTP service's Lua handlers run on its event loop thread.

A ``ProcessHost`` runs its Lua processes on a *lane* thread of their own
(see :mod:`actors.host`).  For an HTTP service that cost more than the
handlers themselves: lupa releases the GIL on every call into Lua, so the
server's loop thread and the lane thread handed the GIL to each other
several times per request (the spawn, the handler's run, its result), a
thread switch each time.  :class:`HandlerHost` is the service's process host
with one difference: its lane is the service's event loop.  A handler
process is spawned, run and answered on one thread, without a hand-over.

It changes nothing a handler can see: every request is still a process of
the service's host with its PID, mailbox and Lua environment; handlers run
concurrently as Lua processes of one lane always do (each one runs until
it waits, then the next); what wakes one from another thread (a timer, a
message, a workflow start done on an I/O thread) is posted to the loop.
What the loop must not do is wait for Lua code that never waits, so the
watchdog that ends such code (``max_busy``, issue 12) treats this lane as
always wanted by others: the server's other connections wait on it.  A
handler past its deadline is ended by the same watchdog even while it
holds the loop (the loop's own timer cannot fire then).

When the loop has stopped (the server shut down) the processes still alive
are run by a thread of their own, so that host shutdown can end them.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import threading
from collections.abc import Callable
from typing import Any

from actors import ProcessHost, errors

Process = Any
"""A process of the host (``actors._process.Process``, internal to ``actors``)."""

__all__ = ["HandlerHost", "LoopLane"]

logger = logging.getLogger("actorflow.http")


class LoopLane:
    """A lane whose slices run on an asyncio loop (its own run queue: ``queue`` is itself).

    ``put(process)`` may be called from any thread: the process's next slice
    runs in a callback of the loop (one callback per batch of runnable
    processes).  Before :meth:`attach` and after :meth:`detach` there is no
    loop: the processes wait, then a thread of the lane's own runs them.
    """

    __slots__ = (
        "__weakref__",
        "_closed",
        "_fallback",
        "_items",
        "_lock",
        "_loop",
        "_loop_thread",
        "_overdue",
        "_scheduled",
        "_wake",
        "host",
        "index",
        "lua_states",
        "queue",
        "thread",
    )

    def __init__(
        self, host: ProcessHost, overdue: Callable[[Process], errors.Error | None] | None = None
    ) -> None:
        self.host = host
        self.index = 0
        self.queue = self
        self.lua_states = 1
        """Lua states the pool spreads this lane's processes over (``StatePool.acquire``): one
        state that every request uses stays in the CPU's caches; eight took a third more."""
        self.thread: threading.Thread | None = None
        self._items: collections.deque[Process] = collections.deque()
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: int | None = None
        self._scheduled = False
        self._fallback: threading.Thread | None = None
        self._closed = False
        self._wake = threading.Condition(self._lock)
        self._overdue = overdue

    def __repr__(self) -> str:
        return f"<LoopLane {self.host.id}>"

    # -- the loop ------------------------------------------------------------------------------

    def attach(self, loop: asyncio.AbstractEventLoop) -> None:
        """Run the lane's slices on ``loop`` (call on the loop's thread, before it serves)."""
        with self._lock:
            self._loop = loop
            self._loop_thread = threading.get_ident()
            self._scheduled = bool(self._items)
        if self._scheduled:
            loop.call_soon(self._drain)

    def detach(self) -> None:
        """The loop has stopped: a thread of the lane's own runs what is runnable now and later."""
        with self._lock:
            self._loop = None
            self._loop_thread = None
            self._scheduled = False
            if self._fallback is None and not self._closed:  # closed: the host stopped already
                self._fallback = threading.Thread(
                    target=self._run_fallback, name=f"{self.host.id}-lua-after", daemon=True
                )
                self.thread = self._fallback
                self._fallback.start()
            self._wake.notify()

    def close(self) -> None:
        """Stop the thread :meth:`detach` started (after the host stopped)."""
        with self._lock:
            self._closed = True  # a detach() after this (a server slow to stop) starts no thread
            fallback, self._fallback = self._fallback, None
            if fallback is None:
                return  # the loop still runs the lane (or never did): nothing to stop
            self._items.append(_STOP)
            self._wake.notify()
        if fallback is not threading.current_thread():
            fallback.join(timeout=5)

    # -- the run queue (what Process._submit and the Lua watchdog use) --------------------------

    def put(self, process: Process) -> None:
        """Make ``process``'s next slice run (any thread)."""
        self._items.append(process)
        lock = self._lock
        lock.acquire()
        if self._scheduled:
            lock.release()
            return
        loop = self._loop
        if loop is None:
            self._wake.notify()  # the fallback thread, if there is one; else attach() drains
            lock.release()
            return
        self._scheduled = True
        lock.release()
        if threading.get_ident() == self._loop_thread:
            loop.call_soon(self._drain)
            return
        try:
            loop.call_soon_threadsafe(self._drain)
        except RuntimeError:  # the loop closed meanwhile: detach() hands the items to its thread
            pass

    def waiting(self) -> bool:
        """True: the server's other connections wait for this thread whenever a handler holds it."""
        return True

    def remove(self, process: Process) -> bool:
        """Nothing is taken from this lane by another thread (a steal): it runs on the loop."""
        return False

    def overdue(self, process: Process) -> errors.Error | None:
        """Asked by the Lua watchdog: the error ``process`` must end with now (past its
        handler's deadline), or None."""
        return None if self._overdue is None else self._overdue(process)

    def _drain(self) -> None:
        """A loop callback: one slice of each process runnable when it started."""
        items = self._items
        with self._lock:
            self._scheduled = False
            count = len(items)
        for _ in range(count):
            process = items.popleft()
            try:
                process.run_slice()
            except Exception:  # pragma: no cover - run_slice handles its own errors
                logger.exception("HTTP handler lane of %s failed running %s", self.host.id, process)

    def _run_fallback(self) -> None:
        items = self._items
        while True:
            with self._lock:
                while not items:
                    self._wake.wait()
                process = items.popleft()
            if process is _STOP:
                return
            try:
                process.run_slice()
            except Exception:  # pragma: no cover - run_slice handles its own errors
                logger.exception("HTTP handler lane of %s failed running %s", self.host.id, process)


_STOP: Any = object()


class HandlerHost(ProcessHost):
    """An HTTP service's process host: its Lua processes run on the service's event loop.

    Its Python actors still run on its worker pool, as on any host.
    """

    def __init__(self, *args: Any, lua_threads: int = 0, **kwargs: Any) -> None:
        """``lua_threads`` as the service's ``host.lua_threads``: 0 (the default) runs the Lua on
        the server's loop; 1 or more on that many lane threads of the host's own, as on any host,
        so a handler computing for long leaves the server's loop free."""
        overdue = kwargs.pop("overdue", None)
        self.on_loop: bool = lua_threads == 0
        super().__init__(*args, lua_threads=max(1, lua_threads), **kwargs)
        self.loop_lane = LoopLane(self, overdue)

    def _lane(self) -> Any:  # ProcessHost: the lane a new cooperative process runs on
        return self.loop_lane if self.on_loop else super()._lane()

    def stop(self, timeout: float = 10.0) -> None:
        try:
            super().stop(timeout)
        finally:
            self.loop_lane.close()
