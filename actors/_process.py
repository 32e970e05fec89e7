"""The process core: one mailbox, signals, links, monitors and the exit rules.

Every process kind (Python actor, Lua process, test probe) is a
:class:`Process` plus a *behaviour* that gives meaning to its messages.  The
core owns everything the spec makes uniform:

* one FIFO mailbox per process holding user messages *and* signals (link,
  unlink, monitor, demonitor, exit, link-down, cancel, terminate), so that
  everything one sender sends one receiver is handled in send order;
* the process state (links, monitors, watchers, ``trap_links``) is touched
  only by the process's own execution, one slice at a time;
* the exit protocol: names released first, then the mailbox closed, pending
  link/monitor requests honoured, EXIT to every watcher, then LINK_DOWN to
  every link when the result carries an error;
* dead letters: a link or monitor request that reaches a closed mailbox is
  answered from the stored result, so no death is ever missed (Erlang's
  ``noproc`` guarantee).

How a process gets CPU time is not decided here: ``_submit`` is provided by
the host (its worker pool, or its lane for cooperative behaviours), a
dedicated thread, or a probe's owner thread.

The mailbox is bounded (:mod:`actors.limits`): user messages waiting for the
process, in the mailbox or held by its behaviour (routed to a channel no task
has read yet), count against ``max_mailbox_bytes``, each its encoded payloads
plus ``MESSAGE_OVERHEAD``; the sender of a message that does not fit gets
``LIMIT_EXCEEDED``.  Signals are never refused.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

from actors import codec, errors
from actors.codec import Packed
from actors.events import Cancel, Exit, LinkDown
from actors.limits import DEFAULT_LIMITS, MESSAGE_OVERHEAD, Limits
from actors.names import Names
from actors.pid import PID
from actors.signals import Item, Signal

__all__ = ["Behaviour", "Owner", "Process", "Router", "current_process", "linked_failure"]

logger = logging.getLogger("actors.process")

CALL = Signal.CALL
"""``(CALL, fn)`` runs ``fn(process)`` in the process's own context (what behaviours queue)."""

# The hottest paths compare against module globals: they load faster than class attributes.
_MSG = Signal.MSG
_OVERHEAD = MESSAGE_OVERHEAD
_ENVELOPE = Signal.ENVELOPE
_CANCEL = Signal.CANCEL
_TERMINATE = Signal.TERMINATE

TERMINATED_MESSAGE = "process terminated"
LINKED_FAILED_MESSAGE = "linked process failed"


class Router(Protocol):
    """What the core and its operations (``_ops``) need from the node."""

    names: Names

    def resolve(self, dest: PID | str) -> PID: ...

    def deliver(self, pid: PID, item: Item) -> bool: ...

    def deliver_if_alive(self, pid: PID, item: Item) -> bool: ...


class Owner(Protocol):
    """What the core needs from the host that runs the process."""

    id: str

    def forget(self, process: Process) -> None: ...


_context = threading.local()


def current_process() -> Process | None:
    """The process whose code is running on this thread, if any."""
    return getattr(_context, "process", None)


def run_as(process: Process, action: Callable[[], Any]) -> Any:
    """``action()`` on this thread as if ``process``'s code ran it (what it sends carries its PID).

    For work a process hands to another thread (an operation that waits on
    I/O): its sends, cancels and terminations still come from the process.
    """
    previous = getattr(_context, "process", None)
    _context.process = process
    try:
        return action()
    finally:
        _context.process = previous


def message_bytes(payloads: tuple[Any, ...]) -> int:
    """What one message counts against a mailbox's bytes: its encoded payloads plus the overhead."""
    size = MESSAGE_OVERHEAD
    for payload in payloads:
        kind = type(payload)
        if kind is Packed:
            size += len(payload.data)
        elif kind is str or kind is bytes:
            size += len(payload)
        else:
            size += 8
    return size


class Behaviour:
    """What a process kind does with what the core hands it.

    Every method runs in the process's own context (one at a time).  Raising
    from any of them crashes the process with an ``INTERNAL`` error.
    """

    __slots__ = ()

    cooperative = False
    """True for a behaviour whose slices never block (every wait is a yield) and which is best
    run on few threads: a Lua process, whose every step calls into Lua (and lupa hands the GIL
    over on each call).  A host runs these on its lane for them, the rest on its worker pool."""

    holds_messages = False
    """True when messages handed to :meth:`message` wait in the behaviour until its code takes
    them (a coroutine process's router): they still count against the mailbox limits, and the
    behaviour calls :meth:`Process.took` as its program takes them."""

    def started(self, process: Process) -> None:
        """First step of the process: links and monitors are already in place."""

    def message(self, process: Process, sender: PID | None, topic: str, payloads: tuple[Any, ...]) -> None:
        """A user message, in mailbox order."""

    def event(self, process: Process, event: Exit | LinkDown | Cancel) -> None:
        """An EXIT, a trapped LINK_DOWN, or a CANCEL."""

    def envelope(self, process: Process, envelope: Any) -> None:
        """A request queued as ``(ENVELOPE, envelope, refuse)`` (a pykka ``tell``/``ask``)."""

    def idle(self, process: Process) -> None:
        """The mailbox batch is handled: run whatever the new messages unblocked."""

    def stopped(self, process: Process) -> None:
        """The process has ended (result set, mailbox closed): release resources."""


class Process:
    """Core state and mailbox of one process.  See the module docstring."""

    __slots__ = (
        "__weakref__",
        "_box",
        "_cancel_queued",
        "_closed",
        "_exit_callbacks",
        "_kill",
        "_limits",
        "_lock",
        "_on_started",
        "_pending_exit",
        "_room",
        "_scheduled",
        "_submit",
        "behaviour",
        "context",
        "entry_id",
        "host",
        "lane",
        "links",
        "monitoring",
        "node",
        "parent",
        "pid",
        "result",
        "trap_links",
        "watchers",
    )

    def __init__(
        self,
        node: Router,
        host: Owner,
        pid: PID,
        behaviour: Behaviour,
        submit: Callable[[Process], None],
        *,
        entry_id: str = "",
        context: dict[str, Any] | None = None,
        parent: PID | None = None,
        limits: Limits = DEFAULT_LIMITS,
    ) -> None:
        self.node = node
        self.host = host
        self.pid = pid
        self.behaviour = behaviour
        self.entry_id = entry_id
        self.context = context
        self.parent = parent
        self._submit = submit
        self._lock = threading.Lock()
        self._box: list[Item] = [(Signal.START,)]
        self._scheduled = False
        self._closed = False
        self._kill: bool | errors.Error = False
        self._limits = limits
        self._room = limits.max_mailbox_bytes
        """Bytes of user messages that still fit in the mailbox: taken by senders under the
        lock, given back when the process takes messages (see ``holds_messages``)."""
        self._cancel_queued = False
        self.lane: Any = None
        """The host's lane thread that runs this process (cooperative behaviours); else ``None``."""
        self._pending_exit: tuple[Any, errors.Error | None] | None = None
        self._exit_callbacks: list[Callable[[Process], None]] | None = None
        self._on_started: Callable[[PID], None] | None = None
        self.links: set[PID] | None = None
        self.monitoring: set[PID] | None = None
        self.watchers: set[PID] | None = None
        self.trap_links = False
        self.result: tuple[Any, errors.Error | None] | None = None

    # -- delivery (any thread) -------------------------------------------

    def deliver(self, item: Item) -> bool:
        """Append ``item`` to the mailbox; False when the process has ended.

        A link or monitor request that finds the mailbox closed is answered
        here from the stored result, so the requester still learns of the
        death.
        """
        # The hottest path of the runtime: explicit acquire/release is twice
        # as fast as ``with`` and nothing in between can raise.  A user message
        # takes its room in the mailbox (limits); signals have a path of their own.
        tag = item[0]
        if tag == _MSG:
            payloads = item[3]
            if len(payloads) == 1:  # the common case, inline
                payload = payloads[0]
                kind = type(payload)
                if kind is Packed:
                    size = _OVERHEAD + len(payload.data)
                elif kind is str or kind is bytes:
                    size = _OVERHEAD + len(payload)
                else:
                    size = _OVERHEAD + 8
            else:
                size = message_bytes(payloads)
        elif tag == _ENVELOPE:  # a pykka tell/ask: the overhead (its payload is a reference)
            size = _OVERHEAD
        else:
            return self._deliver_signal(item)
        lock = self._lock
        lock.acquire()
        if self._closed:
            lock.release()
            self._answer_dead_letter(item)
            return False
        room = self._room - size
        if room < 0:
            lock.release()
            raise self._full(size)
        self._room = room
        self._box.append(item)
        if self._scheduled:
            lock.release()
            return True
        self._scheduled = True
        lock.release()
        self._submit(self)
        return True

    def _deliver_signal(self, item: Item) -> bool:
        """:meth:`deliver` for a signal: never refused (limits), a CANCEL merged into one unread."""
        tag = item[0]
        lock = self._lock
        lock.acquire()
        if self._closed:
            lock.release()
            self._answer_dead_letter(item)
            return False
        if tag == _CANCEL:
            if self._cancel_queued:  # merged into the CANCEL still unread (limits: bounded)
                lock.release()
                return True
            self._cancel_queued = True
        elif tag == _TERMINATE:  # (TERMINATE, sender[, error]): the error it ends with, if given
            self._kill = item[2] if len(item) > 2 else True
        self._box.append(item)
        if self._scheduled:
            lock.release()
            return True
        self._scheduled = True
        lock.release()
        self._submit(self)
        return True

    def _full(self, size: int) -> errors.Error:
        limit = self._limits.max_mailbox_bytes
        return errors.Error(
            errors.LIMIT_EXCEEDED,
            f"mailbox of {self.pid} is full: {limit - self._room:,} of its {limit:,} bytes are taken "
            f"by messages waiting; this one is {size:,} bytes",
            retryable=True,
        )

    def took(self, size: int) -> None:
        """The behaviour handed held messages of ``size`` bytes in all to its program
        (``holds_messages``): their room in the mailbox is free again."""
        with self._lock:
            self._room = min(self._room + size, self._limits.max_mailbox_bytes)

    def mailbox_bytes(self) -> int:
        """Bytes of user messages waiting for this process (what ``max_mailbox_bytes`` bounds)."""
        with self._lock:
            return self._limits.max_mailbox_bytes - self._room

    def schedule(self) -> None:
        """Make the process runnable (used once, right after spawn)."""
        with self._lock:
            if self._scheduled or self._closed:
                return
            self._scheduled = True
        self._submit(self)

    @property
    def alive(self) -> bool:
        return not self._closed

    def mailbox_snapshot(self) -> tuple[int, bool]:
        """(items waiting in the mailbox, runnable): for operators, read without the lock."""
        return len(self._box), self._scheduled

    @property
    def limits(self) -> Limits:
        """The bounds of this process's host (:class:`~actors.limits.Limits`)."""
        return self._limits

    def add_exit_callback(self, callback: Callable[[Process], None]) -> None:
        """Call ``callback(process)`` once the process has ended (at once if it has)."""
        with self._lock:
            if not self._closed:
                if self._exit_callbacks is None:
                    self._exit_callbacks = []
                self._exit_callbacks.append(callback)
                return
        callback(self)

    # -- execution (the process's own context) -----------------------------

    def run_slice(self) -> None:
        """Handle everything in the mailbox, then let the behaviour run."""
        previous = getattr(_context, "process", None)
        _context.process = self
        try:
            self._run_slice()
        finally:
            _context.process = previous

    def _run_slice(self) -> None:
        behaviour = self.behaviour
        with self._lock:
            items = self._box
            self._box = []
            kill = self._kill
            # The batch leaves the mailbox: its room is free again, unless the behaviour
            # holds the messages until its program takes them (it calls took() then).
            if not behaviour.holds_messages:
                self._room = self._limits.max_mailbox_bytes
            self._cancel_queued = False
        if kill:
            # A kill is not queued work: nothing ahead of it runs user code.
            # Link and monitor requests in the batch are still honoured.
            error = (
                kill if isinstance(kill, errors.Error) else errors.Error(errors.INTERNAL, TERMINATED_MESSAGE)
            )
            self._pending_exit = (None, error)
            self._finish(items)
            return
        message = _MSG
        handlers = _SIGNAL_HANDLERS
        index = 0
        count = len(items)
        try:
            while index < count:
                item = items[index]
                index += 1
                tag = item[0]
                if tag == message:
                    behaviour.message(self, item[1], item[2], item[3])
                else:
                    handlers[tag](self, item)  # type: ignore[misc]
                if self._pending_exit is not None:
                    break
            if self._pending_exit is None:
                behaviour.idle(self)
        except BaseException as exc:
            if self._pending_exit is None:
                logger.debug("process %s crashed", self.pid, exc_info=True)
                self._pending_exit = (None, errors.from_exception(exc))
        if self._pending_exit is not None:
            self._finish(items[index:])
            return
        if self._on_started is not None:
            self._report_started()
        with self._lock:
            if not self._box:
                self._scheduled = False
                return
        self._submit(self)

    def _report_started(self) -> None:
        started, self._on_started = self._on_started, None
        try:
            started(self.pid)  # type: ignore[misc]
        except Exception:
            logger.exception("on_started callback of %s failed", self.pid)

    # -- signals: one handler per tag (see _SIGNAL_HANDLERS) ----------------

    def _on_start(self, item: Item) -> None:
        self.behaviour.started(self)

    def _on_envelope(self, item: Item) -> None:
        self.behaviour.envelope(self, item[1])

    def _on_call(self, item: Item) -> None:
        item[1](self)

    def _on_exit(self, item: Item) -> None:
        sender = item[1]
        if self.monitoring and sender in self.monitoring:
            self.monitoring.discard(sender)
            self.behaviour.event(self, Exit(sender, codec.decode(item[2]), item[3], item[4]))

    def _on_link_exit(self, item: Item) -> None:
        sender = item[1]
        if self.links and sender in self.links:
            self.links.discard(sender)
            self.behaviour.event(self, Exit(sender, codec.decode(item[2]), item[3], item[4]))

    def _on_link_down(self, item: Item) -> None:
        sender = item[1]
        if self.links and sender in self.links:
            self.links.discard(sender)
            if self.trap_links:
                self.behaviour.event(self, LinkDown(sender, item[3], codec.decode(item[2]), item[4]))
            else:
                self.exit(error=linked_failure(sender, item[3]))

    def _on_cancel(self, item: Item) -> None:
        self.behaviour.event(self, Cancel(item[1], item[2], item[3], item[4]))

    def _on_terminate(self, item: Item) -> None:
        given = item[2] if len(item) > 2 else None
        self.exit(
            error=given
            if isinstance(given, errors.Error)
            else errors.Error(errors.INTERNAL, TERMINATED_MESSAGE)
        )

    def record_spawned(self, pid: PID, link: bool, monitor: bool) -> None:
        """This process's side of the link and/or monitor a spawn it asked for made (the new
        process had its side from its start).  Called in this process's own context."""
        if link:
            if self.links is None:
                self.links = set()
            self.links.add(pid)
        if monitor:
            if self.monitoring is None:
                self.monitoring = set()
            self.monitoring.add(pid)

    def _on_link(self, item: Item) -> None:
        if self.links is None:
            self.links = set()
        self.links.add(item[1])

    def _on_unlink(self, item: Item) -> None:
        if self.links:
            self.links.discard(item[1])

    def _on_monitor(self, item: Item) -> None:
        if self.watchers is None:
            self.watchers = set()
        self.watchers.add(item[1])

    def _on_demonitor(self, item: Item) -> None:
        if self.watchers:
            self.watchers.discard(item[1])

    def exit(self, value: Any = None, error: errors.Error | None = None) -> None:
        """End this process with ``(value, error)`` at the end of the current step.

        Only the process itself calls this (from its behaviour); others send a
        TERMINATE or CANCEL signal.  The first exit wins.
        """
        if self._pending_exit is None:
            self._pending_exit = (codec.encode(value), error)

    # -- the exit protocol ------------------------------------------------

    def _finish(self, unhandled: list[Item]) -> None:
        assert self._pending_exit is not None
        value, error = self._pending_exit
        self.result = (value, error)
        node = self.node
        node.names.release_all(self.pid)
        with self._lock:
            self._closed = True
            rest = unhandled + self._box if self._box else unhandled
            self._box = []
            callbacks = self._exit_callbacks
            self._exit_callbacks = None
        for item in rest:
            self._absorb_after_death(item)
        try:
            self.behaviour.stopped(self)
        except Exception:
            logger.exception("cleanup of process %s failed", self.pid)
        # Internal bookkeeping (deadline timers, waiting threads) settles
        # before anybody is told, so an observer sees no leftovers.
        if callbacks:
            for callback in callbacks:
                try:
                    callback(self)
                except Exception:
                    logger.exception("exit callback of %s failed", self.pid)
        at = time.time()
        if self.watchers:
            exit_item = (Signal.EXIT, self.pid, value, error, at)
            for watcher in self.watchers:
                node.deliver(watcher, exit_item)
        if self.links:
            if error is not None:
                down_item: Item = (Signal.LINK_DOWN, self.pid, value, error, at)
            else:
                down_item = (Signal.LINK_GONE, self.pid)
            for peer in self.links:
                node.deliver(peer, down_item)
        if self.monitoring:
            demonitor = (Signal.DEMONITOR, self.pid)
            for target in self.monitoring:
                node.deliver(target, demonitor)
        self.host.forget(self)
        # Break the process ↔ behaviour cycle now, so refcounting frees an
        # ended process at once instead of leaving it to the cyclic GC.
        self.behaviour = _ENDED

    def _absorb_after_death(self, item: Item) -> None:
        """Fold a request that arrived before the mailbox closed into the final state."""
        tag = item[0]
        if tag == Signal.LINK:
            if self.links is None:
                self.links = set()
            self.links.add(item[1])
        elif tag == Signal.UNLINK or tag == Signal.LINK_GONE:
            if self.links:
                self.links.discard(item[1])
        elif tag == Signal.MONITOR:
            if self.watchers is None:
                self.watchers = set()
            self.watchers.add(item[1])
        elif tag == Signal.DEMONITOR:
            if self.watchers:
                self.watchers.discard(item[1])
        elif tag == Signal.ENVELOPE:
            item[2](self.pid, item[1])

    def _answer_dead_letter(self, item: Item) -> None:
        """Answer a request that reached the closed mailbox of an ended process."""
        tag = item[0]
        result = self.result
        if result is None:  # pragma: no cover - closed implies result
            return
        value, error = result
        if tag == Signal.MONITOR:
            self.node.deliver(item[1], (Signal.EXIT, self.pid, value, error, time.time()))
        elif tag == Signal.LINK:
            if error is not None:
                self.node.deliver(item[1], (Signal.LINK_DOWN, self.pid, value, error, time.time()))
            else:
                self.node.deliver(item[1], (Signal.LINK_GONE, self.pid))
        elif tag == Signal.ENVELOPE:
            item[2](self.pid, item[1])

    def __repr__(self) -> str:
        state = "alive" if not self._closed else "dead"
        return f"<Process {self.pid} {state}>"


_ENDED = Behaviour()

_HANDLERS_BY_TAG: dict[int, Callable[[Process, Item], None]] = {
    Signal.START: Process._on_start,
    Signal.LINK: Process._on_link,
    Signal.UNLINK: Process._on_unlink,
    Signal.LINK_GONE: Process._on_unlink,
    Signal.MONITOR: Process._on_monitor,
    Signal.DEMONITOR: Process._on_demonitor,
    Signal.EXIT: Process._on_exit,
    Signal.LINK_DOWN: Process._on_link_down,
    Signal.CANCEL: Process._on_cancel,
    Signal.TERMINATE: Process._on_terminate,
    Signal.CALL: Process._on_call,
    Signal.ENVELOPE: Process._on_envelope,
    Signal.LINK_EXIT: Process._on_link_exit,
}
_SIGNAL_HANDLERS = tuple(_HANDLERS_BY_TAG.get(tag) for tag in range(max(_HANDLERS_BY_TAG) + 1))
"""The handlers indexed by tag: a list lookup, not a chain of comparisons (MSG, tag 0, is
handled in ``_run_slice`` itself)."""


def linked_failure(peer: PID, cause: errors.Error | None) -> errors.Error:
    """The error a non-trapping process dies with when a linked peer fails."""
    details: dict[str, Any] = {"pid": str(peer)}
    if cause is not None:
        details["cause"] = {"kind": cause.kind(), "message": cause.message()}
    return errors.Error(errors.UNKNOWN, LINKED_FAILED_MESSAGE, details=details)
