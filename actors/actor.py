"""Python actors: pykka actors that are also processes.

Subclass :class:`Actor` exactly as you would subclass ``pykka.ThreadingActor``:
``ActorRef``, ``tell``, ``ask``, ``proxy``, ``on_start``, ``on_stop``,
``on_failure`` and ``on_receive`` keep their pykka meaning.  In addition the
actor has a PID and the whole process core::

    class Worker(Actor):
        def on_start(self):
            self.trap_links = True
            self.monitor(self.peer)

        def on_receive(self, message):
            ...                       # pykka messages, actors.Message, events

        def on_event(self, event):    # Exit / LinkDown / Cancel
            ...

    pid = node.spawn(Worker, link=True)    # from inside another process
    ref = node.start(Worker)               # the pykka ActorRef, ref.pid

Actors run on their host's worker pool (pykka's actor-type hooks are
implemented so no thread is created per actor).  An actor that blocks (I/O,
``time.sleep``, a blocking ``ask``) sets ``use_thread = True`` and gets a
thread of its own.

``tell``/``ask`` pass Python objects by reference, as pykka does; ``send``
copies the payload through the codec, as processes do.
"""

from __future__ import annotations

import logging
import sys
import threading
import weakref
from typing import Any, ClassVar

import pykka
from pykka import ActorDeadError, ActorRegistry, ThreadingFuture
from pykka._envelope import Envelope
from pykka.messages import _ActorStop

from actors import _ops, errors
from actors._process import Behaviour, Process, current_process, linked_failure
from actors.events import Cancel, Exit, LinkDown, Message
from actors.host import ProcessHost
from actors.node import Node, default_node
from actors.pid import PID
from actors.seam import SpawnRequest
from actors.signals import Signal

__all__ = ["Actor", "ActorRef", "actor_behaviour", "actor_ref_of"]

logger = logging.getLogger("actors.actor")

_construction = threading.local()

_ENVELOPE = Signal.ENVELOPE  # for tell/ask: a module global loads faster than a class attribute


class _StoppedFlag:
    """The subset of ``threading.Event`` pykka uses, without a lock per actor."""

    __slots__ = ("_cond", "_set")

    def __init__(self) -> None:
        self._set = False
        self._cond: threading.Condition | None = None

    def is_set(self) -> bool:
        return self._set

    def set(self) -> None:
        self._set = True
        cond = self._cond
        if cond is not None:
            with cond:
                cond.notify_all()

    def wait(self, timeout: float | None = None) -> bool:
        if self._set:
            return True
        if self._cond is None:
            self._cond = threading.Condition()
        with self._cond:
            if not self._set:
                self._cond.wait(timeout)
        return self._set


class ActorRef(pykka.ActorRef):  # type: ignore[type-arg]
    """A pykka ``ActorRef`` that also knows the actor's PID."""

    pid: PID

    def __init__(self, actor: Actor) -> None:
        self._actor_weakref = weakref.ref(actor)
        self.actor_class = actor.__class__
        self.actor_urn = actor.actor_urn
        self.actor_inbox = _Inbox(actor._process)  # type: ignore[assignment]
        self.actor_stopped = actor.actor_stopped
        self.pid = actor.pid

    def __str__(self) -> str:
        return f"{self.actor_class.__name__} ({self.pid})"


class Actor(pykka.Actor):
    """A pykka actor with a PID, links, monitors and ``trap_links``."""

    use_thread: ClassVar[bool] = False
    """Run on a dedicated thread (for actors that block) instead of the host pool."""

    pid: PID
    node: Node
    _process: Process

    def __init__(self, *_args: Any, **_kwargs: Any) -> None:
        pending = getattr(_construction, "process", None)
        if pending is None:
            raise errors.Error(
                errors.INVALID,
                f"{type(self).__name__} must be started by a node: node.spawn(...), node.start(...) "
                "or .start()",
            )
        self._process = pending
        self.pid = pending.pid
        self.node = pending.node
        self.actor_urn = f"urn:actorflow:{pending.pid}"
        self.actor_stopped = _StoppedFlag()  # type: ignore[assignment]
        self._actor_ref: ActorRef | None = None  # type: ignore[assignment]

    # -- pykka hooks ----------------------------------------------------------

    @classmethod
    def start(cls, *args: Any, **kwargs: Any) -> ActorRef:  # type: ignore[override]
        """pykka's ``start()``: spawn on the default node, register with pykka, return the ref."""
        node = default_node()
        pid = node.spawn(cls, *args, **kwargs)
        ref = actor_ref_of(node.process(pid))
        if ref is None:
            raise errors.Error(errors.NOT_FOUND, f"{pid} is not a live actor")
        ActorRegistry.register(ref)
        return ref

    @staticmethod
    def _create_actor_inbox() -> Any:  # pragma: no cover - __init__ builds the inbox
        raise RuntimeError("actors.Actor builds its inbox from its process")

    @staticmethod
    def _create_future() -> ThreadingFuture[Any]:
        return _AskFuture()

    def _start_actor_loop(self) -> None:  # pragma: no cover - the host starts the process
        raise RuntimeError("actors.Actor is started by its host")

    @property
    def actor_inbox(self) -> Any:  # type: ignore[override]
        """pykka's inbox: made with the actor's first ``ActorRef`` (most actors never get one)."""
        return self.actor_ref.actor_inbox

    @property
    def actor_ref(self) -> ActorRef:  # type: ignore[override]
        ref = self._actor_ref
        if ref is None:
            ref = self._actor_ref = ActorRef(self)
        return ref

    def _stop(self) -> None:
        """pykka's graceful stop: ``on_stop`` runs, then the process exits normally."""
        self._unregister()
        self.actor_stopped.set()
        try:
            self.on_stop()
        except Exception as exc:
            self._handle_failure(*sys.exc_info())
            self._process.exit(error=errors.from_exception(exc))
            return
        self._process.exit()

    def _unregister(self) -> None:
        # Only refs handed out can be in pykka's registry; skip its O(n) scan otherwise.
        if self._actor_ref is not None:
            ActorRegistry.unregister(self._actor_ref)

    def _handle_failure(self, exception_type: Any, exception_value: Any, traceback: Any) -> None:
        logger.error(
            "Unhandled exception in %s:", self, exc_info=(exception_type, exception_value, traceback)
        )
        self._unregister()
        self.actor_stopped.set()

    def __str__(self) -> str:
        return f"{type(self).__name__} ({self.pid})"

    # -- process API ------------------------------------------------------------

    def send(self, dest: PID | str, topic: str, *payloads: Any) -> None:
        """Send a message (payloads are copied); raises ``Error`` on failure."""
        self.node.send(dest, topic, *payloads)

    def spawn(self, target: Any, *args: Any, **options: Any) -> PID:
        """Spawn a process; ``link=True``/``monitor=True`` attach this actor atomically."""
        return self.node.spawn(target, *args, **options)

    def link(self, dest: PID | str) -> None:
        """Link with ``dest`` (both ways); ``NOT_FOUND`` if it is not alive."""
        _ops.link(self._process, dest)

    def unlink(self, dest: PID | str) -> None:
        _ops.unlink(self._process, dest)

    def monitor(self, dest: PID | str) -> None:
        """Get an :class:`~actors.Exit` event when ``dest`` ends."""
        _ops.monitor(self._process, dest)

    def unmonitor(self, dest: PID | str) -> None:
        _ops.unmonitor(self._process, dest)

    @property
    def trap_links(self) -> bool:
        """When True, a failing linked process gives a LinkDown event instead of killing this actor."""
        return self._process.trap_links

    @trap_links.setter
    def trap_links(self, value: bool) -> None:
        _ops.set_trap_links(self._process, value)

    def terminate(self, dest: PID | str) -> None:
        self.node.terminate(dest)

    def cancel(self, dest: PID | str, deadline: float | None = None, reason: str = "") -> None:
        self.node.cancel(dest, deadline, reason)

    def register(self, name: str) -> None:
        """Register ``name`` for this actor (released when it exits)."""
        self.node.register(name, self.pid)

    def exit(self, value: Any = None, error: errors.Error | None = None) -> None:
        """End this actor with a result after the current message (``error`` makes it abnormal)."""
        self.actor_stopped.set()
        self._unregister()
        self._process.exit(value, error)

    # -- event hook -------------------------------------------------------------

    def on_parent_down(self, event: LinkDown) -> None:
        """The process that spawned and linked this actor failed, while it traps links.

        OTP's rule for gen_server: a process ends when its parent does, for the
        parent's reason, even when it traps exits; so workers of a supervisor
        that is killed do not live on as orphans.  Override to outlive it.
        """
        self.exit(error=linked_failure(event.pid, event.error))

    def on_event(self, event: Exit | LinkDown | Cancel) -> None:
        """Handle a system event.

        The default stops the actor gracefully on :class:`~actors.Cancel`
        (``on_stop`` runs, the exit is normal) and hands EXIT and LINK_DOWN
        events to :meth:`on_receive`.
        """
        if isinstance(event, Cancel):
            self._stop()
        else:
            self.on_receive(event)


class _AskFuture(ThreadingFuture[Any]):
    """The reply to an ``ask``: a thread outside the pool that waits for it runs the actor itself.

    An ``ask`` from a plain thread costs two thread wake-ups (a worker for the
    actor, then the caller for the reply), and those are nearly all of its
    time.  The caller is going to block anyway, so when nothing else has
    taken the actor's turn yet, ``get()`` takes it from the host's run queue
    and runs it on the calling thread: the actor still handles its messages
    one at a time, in order, on one thread at a time.
    """

    __slots__ = ("process",)

    def __init__(self) -> None:
        super().__init__()
        self.process: Process | None = None
        """Set when the envelope carrying this future reaches the actor's mailbox."""

    def get(self, *, timeout: float | None = None) -> Any:
        process = self.process
        if process is not None and timeout is None and self._result is None:
            self.process = None
            host = process.host
            if isinstance(host, ProcessHost) and current_process() is None and host.steal(process):
                process.run_slice()
        return super().get(timeout=timeout)


class _Inbox:
    """pykka's inbox protocol over the actor's process mailbox: ``tell``/``ask`` queue here."""

    __slots__ = ("process",)

    def __init__(self, process: Process) -> None:
        self.process = process

    def put(self, envelope: Envelope[Any], /) -> None:
        reply_to = envelope.reply_to
        if reply_to is not None and type(reply_to) is _AskFuture:
            reply_to.process = self.process  # an ask: its waiter may run the actor itself
        self.process.deliver((_ENVELOPE, envelope, _refuse))


def _refuse(pid: PID, envelope: Envelope[Any]) -> None:
    """Answer a pykka ``ask`` whose actor is gone, as pykka does on teardown."""
    reply_to = envelope.reply_to
    if reply_to is None:
        return
    try:
        if isinstance(envelope.message, _ActorStop):
            reply_to.set(None)
        else:
            exc = ActorDeadError(f"{pid} stopped before handling the message")
            reply_to.set_exception(exc_info=(ActorDeadError, exc, None))
    except Exception:  # the future was already resolved
        pass


def actor_ref_of(process: Process | None) -> ActorRef | None:
    """The ``ActorRef`` of ``process`` when it is a live :class:`Actor`, else ``None``."""
    if process is None or not process.alive:
        return None
    behaviour = process.behaviour
    if type(behaviour) is not _ActorBehaviour:
        return None
    return behaviour.actor.actor_ref


class _ActorBehaviour(Behaviour):
    """Adapts the core's callbacks to pykka's actor loop semantics."""

    __slots__ = ("actor",)

    def __init__(self, actor: Actor) -> None:
        self.actor = actor

    def started(self, process: Process) -> None:
        actor = self.actor
        try:
            actor.on_start()
        except Exception as exc:
            actor._handle_failure(*sys.exc_info())
            process.exit(error=errors.from_exception(exc))

    def message(self, process: Process, sender: PID | None, topic: str, payloads: tuple[Any, ...]) -> None:
        self._run(process, self.actor.on_receive, Message(topic, sender, payloads))

    def event(self, process: Process, event: Exit | LinkDown | Cancel) -> None:
        if type(event) is LinkDown and event.pid == process.parent:
            self._run(process, self.actor.on_parent_down, event)
        else:
            self._run(process, self.actor.on_event, event)

    def envelope(self, process: Process, envelope: Envelope[Any]) -> None:
        actor = self.actor
        reply_to = envelope.reply_to
        try:
            response = actor._handle_receive(envelope.message)
        except Exception:
            if reply_to is not None:
                logger.info("Exception returned from %s to caller:", actor, exc_info=sys.exc_info())
                reply_to.set_exception()
            else:
                self._fail(process, sys.exc_info())
            return
        if reply_to is not None:
            reply_to.set(response)

    def _run(self, process: Process, handler: Any, argument: Any) -> None:
        try:
            handler(argument)
        except Exception:
            self._fail(process, sys.exc_info())

    def _fail(self, process: Process, exc_info: Any) -> None:
        actor = self.actor
        actor._handle_failure(*exc_info)
        try:
            actor.on_failure(*exc_info)
        except Exception:
            actor._handle_failure(*sys.exc_info())
        process.exit(error=errors.from_exception(exc_info[1]))

    def stopped(self, process: Process) -> None:
        actor = self.actor
        if actor.actor_stopped.is_set():
            return
        # Ended by a signal (terminate, a failing link): no graceful on_stop,
        # but on_failure lets the actor release what it holds.
        actor.actor_stopped.set()
        actor._unregister()
        assert process.result is not None
        error = process.result[1]
        if error is not None:
            try:
                actor.on_failure(type(error), error, None)
            except Exception:
                logger.exception("on_failure of %s failed", actor)


def actor_behaviour(
    actor_class: type[Actor], request: SpawnRequest, process: Process
) -> tuple[Behaviour, bool]:
    """Instantiate ``actor_class`` for ``process`` (its ``__init__`` runs in the spawner's thread)."""
    previous = getattr(_construction, "process", None)
    _construction.process = process
    try:
        actor = actor_class(*request.args, **(request.kwargs or {}))
    finally:
        _construction.process = previous
    if getattr(actor, "_process", None) is not process:
        raise errors.Error(errors.INVALID, f"{actor_class.__name__}.__init__ did not call super().__init__()")
    dedicated = actor_class.use_thread if request.thread is None else request.thread
    return _ActorBehaviour(actor), dedicated
