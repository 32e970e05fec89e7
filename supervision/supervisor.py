"""``Supervisor``: OTP's supervisor behaviour, as a process of the actors runtime.

A supervisor is an :class:`actors.Actor` that traps links.  It starts its
children in order, linked and monitored; when one ends it applies its
strategy (``one_for_one``, ``one_for_all``, ``rest_for_one``, or
``simple_one_for_one`` for dynamic children), within a restart intensity
(``max_restarts`` in ``max_seconds``).  Past the intensity it stops every
child in reverse start order and exits with an error, so its own supervisor
applies its strategy: escalation.

Stopping a child follows the process core's rules, not a side channel:
``brutal_kill`` terminates it; a timeout sends a CANCEL with that deadline
(the core terminates the child when it passes); ``infinity`` sends a CANCEL
and waits.  Every stop waits for the child's EXIT before going on, so stops
happen one at a time in reverse start order.  The supervisor never blocks:
each step is a reaction to an event in its own mailbox.

Use :func:`start_supervisor` (or :func:`start_dynamic_supervisor`) from a
thread; the returned :class:`SupervisorRef` offers ``start_child``,
``terminate_child``, ``restart_child``, ``delete_child``, ``which_children``,
``count_children``, ``tree`` and ``stop``.
"""

from __future__ import annotations

import itertools
import logging
import random
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pykka
from pykka import ThreadingFuture

from actors import PID, Actor, Cancel, Error, Exit, LinkDown, Node, errors
from supervision.spec import ChildSpec, SupervisorSpec

__all__ = ["Supervisor", "SupervisorRef", "start_dynamic_supervisor", "start_supervisor"]

logger = logging.getLogger("supervision")

INTENSITY_MESSAGE = "reached max restart intensity"


class _Child:
    __slots__ = ("attempt", "generation", "last_error", "pid", "restarts", "spec", "started_at", "status")

    def __init__(self, spec: ChildSpec) -> None:
        self.spec = spec
        self.pid: PID | None = None
        self.status = "stopped"  # running | restarting | stopping | stopped
        self.restarts = 0
        self.started_at = 0.0
        self.attempt = 0
        self.generation = 0
        self.last_error: Error | None = None

    def describe(self) -> dict[str, Any]:
        return {
            "id": self.spec.id,
            "pid": self.pid,
            "status": self.status,
            "restarts": self.restarts,
            "type": self.spec.child_type,
            "restart": self.spec.restart,
        }


@dataclass
class _Call:
    """A request from a :class:`SupervisorRef`, answered through ``future``."""

    op: str
    args: tuple[Any, ...]
    future: ThreadingFuture[Any]


@dataclass
class _Restart:
    """A delayed restart (backoff) firing."""

    generation: int
    group: tuple[str, ...]


@dataclass
class _Started:
    """A child's initialisation is done (its ``on_started``): the next one may start."""

    pid: PID


class _TellParent:
    """The ``ready`` of a nested supervisor: tells its parent once all its children started.

    A nested supervisor that fails to start exits with the error, which its
    parent sees as the child's EXIT.
    """

    def __init__(self, parent: Any) -> None:
        self.parent = parent

    def set(self, pid: PID) -> None:
        _tell(self.parent, _Started(pid))

    def set_exception(self, exc_info: Any = None) -> None:
        pass


class Supervisor(Actor):
    """The supervisor process.  Start it with :func:`start_supervisor`."""

    def __init__(
        self,
        spec: SupervisorSpec,
        ready: ThreadingFuture[Any] | None = None,
        clock: Callable[[], float] = time.monotonic,
        timers: Any = None,
        uniform: Callable[[float, float], float] = random.uniform,
    ) -> None:
        super().__init__()
        self.spec = spec
        self._ready = ready
        self._clock = clock
        self._timers = timers
        self._uniform = uniform
        self._children: list[_Child] = []
        self._by_pid: dict[PID, _Child] = {}
        self._stopping: dict[PID, Callable[[], None]] = {}
        self._restart_times: deque[float] = deque()
        self._shutting_down = False
        self._generation = itertools.count(1)
        self._dynamic_ids = itertools.count(1)
        self._pending_timers: dict[int, Any] = {}
        self._awaiting: dict[PID, Callable[[Error | None], None]] = {}
        """Children whose initialisation is under way: what to do when it ends (error or None)."""
        self.total_restarts = 0

    # -- life ---------------------------------------------------------------------------------

    def on_start(self) -> None:
        self.trap_links = True
        if self._timers is None:
            self._timers = self.node.timers
        self._children = [_Child(child) for child in self.spec.children]
        self._start_from(0)

    def _start_from(self, index: int) -> None:
        """Start the children from ``index`` on, each once the one before has initialised (OTP)."""
        while index < len(self._children):
            child = self._children[index]
            try:
                pid, acknowledged = self._start(child)
            except Error as err:
                self._start_failed(index, err)
                return
            if acknowledged:
                self._awaiting[pid] = lambda error, at=index: self._initialised(at, error)
                return
            index += 1
        if self._ready is not None:
            self._ready.set(self.pid)

    def _initialised(self, index: int, error: Error | None) -> None:
        if error is not None:
            self._start_failed(index, error)
        else:
            self._start_from(index + 1)

    def _start_failed(self, index: int, err: Error) -> None:
        failure = _start_failure(self._children[index].spec.id, err)
        logger.warning("supervisor %s: %s", self.pid, failure.message())
        self._shutdown(failure, started=self._children[:index])

    def on_event(self, event: Exit | LinkDown | Cancel) -> None:
        if isinstance(event, Exit):
            self._on_exit(event)
        elif isinstance(event, Cancel):
            self._shutdown(None)

    def on_parent_down(self, event: LinkDown) -> None:
        # OTP: an exit signal from the parent means "shut down now, for that reason".
        self._shutdown(event.error)

    def on_receive(self, message: Any) -> Any:
        if isinstance(message, _Started):
            initialised = self._awaiting.pop(message.pid, None)
            if initialised is not None:
                initialised(None)
        elif isinstance(message, _Restart):
            self._pending_timers.pop(message.generation, None)
            self._restart_group([child for child in self._children if child.spec.id in message.group])
        elif isinstance(message, _Call):
            self._answer(message)
        return None

    def on_stop(self) -> None:
        self._cancel_timers()

    def on_failure(self, exception_type: Any, exception_value: Any, traceback: Any) -> None:
        # Terminated or killed by a link: no backoff timer may outlive us.
        self._cancel_timers()

    def _cancel_timers(self) -> None:
        for timer in self._pending_timers.values():
            timer.cancel()
        self._pending_timers.clear()

    # -- starting ------------------------------------------------------------------------------

    def _start(self, child: _Child) -> tuple[PID, bool]:
        """Spawn ``child``; its PID, and whether a ``_Started`` will say its initialisation is done."""
        spec = child.spec
        start = spec.start
        node: Node = self.node
        ref = self.actor_ref

        def started(pid: PID) -> None:
            _tell(ref, _Started(pid))

        acknowledged = True
        if isinstance(start, SupervisorSpec):
            pid = node.spawn(
                Supervisor,
                start,
                _TellParent(ref),
                self._clock,
                self._timers,
                self._uniform,
                link=True,
                monitor=True,
            )
        elif spec.spawns_itself():
            acknowledged = False  # the callable did the starting: it is up when it returns
            pid = start(*spec.args, **spec.kwargs)
            if not isinstance(pid, PID):
                raise Error(errors.INVALID, f"child {spec.id}: start returned {pid!r}, not a PID")
            try:
                self.monitor(pid)
            except Error as err:
                raise Error(
                    errors.INTERNAL, f"child {spec.id} ended during its start: {err.message()}"
                ) from None
        elif isinstance(start, str):
            pid = node.spawn(start, *spec.args, host=spec.host, link=True, monitor=True, on_started=started)
        else:
            pid = node.spawn(start, *spec.args, link=True, monitor=True, on_started=started, **spec.kwargs)
        child.pid = pid
        child.status = "running"
        child.started_at = self._clock()
        self._by_pid[pid] = child
        return pid, acknowledged

    # -- ends of children --------------------------------------------------------------------------

    def _on_exit(self, event: Exit) -> None:
        child = self._by_pid.pop(event.pid, None)
        if child is not None:
            child.pid = None
            child.status = "stopped"
            child.last_error = event.error
        initialised = self._awaiting.pop(event.pid, None)
        if initialised is not None:
            if event.error is not None:
                initialised(event.error)  # it failed to start: not a crash to restart
                return
            initialised(None)  # it started and ended in its first step: an ordinary end
        done = self._stopping.pop(event.pid, None)
        if done is not None:
            done()  # an end we asked for
            return
        if child is None or self._shutting_down:
            return
        self._child_died(child, event.error)

    def _child_died(self, child: _Child, error: Error | None) -> None:
        restart = child.spec.restart
        if restart == "temporary" or (restart == "transient" and error is None):
            if restart == "temporary" or self.spec.strategy == "simple_one_for_one":
                self._remove(child)
            return
        if not self._within_intensity():
            failure = Error(
                errors.LIMIT_EXCEEDED,
                f"{INTENSITY_MESSAGE}: more than {self.spec.max_restarts} restarts in {self.spec.max_seconds} s",
                details={
                    "child": child.spec.id,
                    "reason": {"kind": error.kind(), "message": error.message()}
                    if error is not None
                    else None,
                },
            )
            logger.error("supervisor %s: %s (last: child %s)", self.pid, failure.message(), child.spec.id)
            self._shutdown(failure)
            return
        strategy = self.spec.strategy
        if strategy in ("one_for_one", "simple_one_for_one"):
            self._schedule_restart([child])
            return
        position = self._children.index(child)
        affected = self._children if strategy == "one_for_all" else self._children[position:]
        running = [other for other in affected if other is not child and other.pid is not None]

        def restart_affected() -> None:
            survivors = [other for other in affected if other.spec.restart != "temporary"]
            for other in affected:
                if other.spec.restart == "temporary":
                    self._remove(other)
            self._schedule_restart(survivors)

        self._stop_sequence(list(reversed(running)), restart_affected)

    def _within_intensity(self) -> bool:
        """Record a restart; False when there were more than ``max_restarts`` in ``max_seconds``."""
        now = self._clock()
        window = self._restart_times
        window.append(now)
        while window and now - window[0] > self.spec.max_seconds:
            window.popleft()
        return len(window) <= self.spec.max_restarts

    def _schedule_restart(self, group: list[_Child]) -> None:
        if not group:
            return
        for child in group:
            child.status = "restarting"  # terminate_child meanwhile turns it to "stopped": no restart
        backoff = self.spec.backoff
        if backoff is None:
            self._restart_group(group)
            return
        first = group[0]
        ran = self._clock() - first.started_at
        first.attempt = 1 if ran >= backoff.reset_after else first.attempt + 1
        delay = backoff.delay(first.attempt, self._uniform)
        generation = next(self._generation)
        message = _Restart(generation, tuple(child.spec.id for child in group))
        ref = self.actor_ref
        self._pending_timers[generation] = self._timers.call_later(delay, lambda: _tell(ref, message))

    def _restart_group(self, group: list[_Child]) -> None:
        if self._shutting_down:
            return
        for child in group:
            if child not in self._children or child.pid is not None or child.status != "restarting":
                continue
            try:
                self._start(child)  # a crash in its initialisation is an EXIT like any other
            except Error as err:
                logger.warning("supervisor %s: restarting %s failed: %s", self.pid, child.spec.id, err)
                child.last_error = err
                self._child_died(child, err)
                return
            child.restarts += 1
            self.total_restarts += 1

    def _remove(self, child: _Child) -> None:
        if child in self._children:
            self._children.remove(child)

    # -- stopping -----------------------------------------------------------------------------------

    def _stop(self, child: _Child, done: Callable[[], None]) -> None:
        pid = child.pid
        if pid is None or not self.node.is_alive(pid):
            if pid is not None:
                self._by_pid.pop(pid, None)
                child.pid = None
            child.status = "stopped"
            done()
            return
        child.status = "stopping"
        self._stopping[pid] = done
        policy = child.spec.shutdown_policy
        try:
            if policy == "brutal_kill":
                self.node.terminate(pid)
            elif policy == "infinity":
                self.node.cancel(pid, reason="shutdown")
            else:
                self.node.cancel(pid, deadline=float(policy), reason="shutdown")
        except Error:
            pass  # it ended meanwhile: its EXIT is on the way

    def _stop_sequence(self, children: list[_Child], then: Callable[[], None]) -> None:
        """Stop ``children`` one after the other (each waits for the previous EXIT)."""
        if not children:
            then()
            return
        first, rest = children[0], children[1:]
        self._stop(first, lambda: self._stop_sequence(rest, then))

    def _shutdown(self, error: Error | None, started: list[_Child] | None = None) -> None:
        """Stop every child in reverse start order, then exit (with ``error``)."""
        if self._shutting_down:
            return
        self._shutting_down = True
        self._cancel_timers()
        running = [
            child for child in (started if started is not None else self._children) if child.pid is not None
        ]

        def finish() -> None:
            if self._ready is not None and error is not None:
                try:
                    self._ready.set_exception(exc_info=(Error, error, None))
                except Exception:
                    pass  # already answered: this is a later failure
            self.exit(error=error)

        self._stop_sequence(list(reversed(running)), finish)

    # -- requests ------------------------------------------------------------------------------------

    def _answer(self, call: _Call) -> None:
        handler = getattr(self, f"_call_{call.op}", None)
        try:
            if handler is None:
                raise Error(errors.INVALID, f"unknown supervisor request {call.op!r}")
            if self._shutting_down and call.op not in ("which_children", "count_children", "tree"):
                raise Error(errors.UNAVAILABLE, "the supervisor is shutting down")
            handler(call)
        except Error as err:
            call.future.set_exception(exc_info=(Error, err, None))

    def _find(self, key: str | PID) -> _Child:
        for child in self._children:
            if child.spec.id == key or (child.pid is not None and child.pid == key):
                return child
        raise Error(errors.NOT_FOUND, f"no child {key}")

    def _call_start_child(self, call: _Call) -> None:
        if self.spec.strategy == "simple_one_for_one":
            template = self.spec.template
            assert template is not None
            limit = self.spec.max_children
            if limit is not None and len(self._children) >= limit:
                raise Error(errors.LIMIT_EXCEEDED, f"max_children ({limit}) reached")
            spec = ChildSpec(
                f"{template.id}-{next(self._dynamic_ids)}",
                template.start,
                args=(*template.args, *call.args),
                kwargs=template.kwargs,
                restart=template.restart,
                shutdown=template.shutdown,
                type=template.type,
                host=template.host,
            )
        else:
            spec = call.args[0]
            if not isinstance(spec, ChildSpec):
                raise Error(errors.INVALID, "start_child needs a ChildSpec")
            if any(child.spec.id == spec.id for child in self._children):
                raise Error(errors.ALREADY_EXISTS, f"child {spec.id} already exists")
        child = _Child(spec)
        pid, acknowledged = self._start(child)
        self._children.append(child)
        if not acknowledged:
            call.future.set(pid)
            return

        def initialised(error: Error | None) -> None:
            if error is None:
                call.future.set(pid)
                return
            self._remove(child)  # OTP: a child that fails to start is not kept
            call.future.set_exception(exc_info=(Error, _start_failure(spec.id, error), None))

        self._awaiting[pid] = initialised

    def _call_terminate_child(self, call: _Call) -> None:
        child = self._find(call.args[0])

        def stopped() -> None:
            if child.spec.restart == "temporary" or self.spec.strategy == "simple_one_for_one":
                self._remove(child)
            call.future.set(None)

        self._stop(child, stopped)

    def _call_restart_child(self, call: _Call) -> None:
        child = self._find(call.args[0])
        if child.pid is not None:
            raise Error(errors.ALREADY_EXISTS, f"child {child.spec.id} is running")
        call.future.set(self._start(child)[0])

    def _call_delete_child(self, call: _Call) -> None:
        child = self._find(call.args[0])
        if child.pid is not None or child.status == "restarting":
            raise Error(errors.INVALID_STATE, f"child {child.spec.id} is running: terminate it first")
        self._remove(child)
        call.future.set(None)

    def _call_which_children(self, call: _Call) -> None:
        call.future.set([child.describe() for child in self._children])

    def _call_count_children(self, call: _Call) -> None:
        kinds = [child.spec.child_type for child in self._children]
        call.future.set(
            {
                "specs": len(self._children),
                "active": sum(1 for child in self._children if child.pid is not None),
                "supervisors": kinds.count("supervisor"),
                "workers": kinds.count("worker"),
            }
        )

    def _call_tree(self, call: _Call) -> None:
        call.future.set(
            {
                "id": self.spec.name or str(self.pid),
                "pid": self.pid,
                "strategy": self.spec.strategy,
                "status": "stopping" if self._shutting_down else "running",
                "restarts": self.total_restarts,
                "children": [child.describe() for child in self._children],
            }
        )


def _start_failure(child_id: str, cause: Error) -> Error:
    """The error a failed start reports: the child's own, named after the child."""
    return Error(
        cause.kind(),
        f"child {child_id} failed to start: {cause.message()}",
        retryable=cause.retryable(),
        details={"child": child_id},
    )


def _tell(ref: Any, message: Any) -> None:
    try:
        ref.tell(message)
    except pykka.ActorDeadError:
        pass  # the supervisor is gone; so is the reason for the restart


class SupervisorRef:
    """A handle to a running supervisor, usable from any thread outside the pool."""

    def __init__(self, node: Node, pid: PID) -> None:
        self.node = node
        self.pid = pid

    def _call(self, op: str, *args: Any, timeout: float | None = 30.0) -> Any:
        future: ThreadingFuture[Any] = ThreadingFuture()
        try:
            self.node.actor_ref(self.pid).tell(_Call(op, args, future))
        except (Error, pykka.ActorDeadError):
            raise Error(errors.NOT_FOUND, f"supervisor {self.pid} is not running") from None
        try:
            return future.get(timeout=timeout)
        except pykka.Timeout:
            raise Error(errors.TIMEOUT, f"supervisor {self.pid} did not answer {op} in {timeout} s") from None

    def start_child(self, spec_or_args: Any = None, *args: Any, timeout: float | None = 30.0) -> PID:
        """Start a child: a ChildSpec, or (dynamic supervisors) extra start arguments."""
        payload = (spec_or_args, *args) if spec_or_args is not None else args
        return self._call("start_child", *payload, timeout=timeout)

    def terminate_child(self, child: str | PID, timeout: float | None = None) -> None:
        """Stop a child by its shutdown rule and wait for its end (the spec stays, unless temporary)."""
        self._call("terminate_child", child, timeout=timeout)

    def restart_child(self, child_id: str) -> PID:
        return self._call("restart_child", child_id)

    def delete_child(self, child_id: str) -> None:
        self._call("delete_child", child_id)

    def which_children(self) -> list[dict[str, Any]]:
        return self._call("which_children")

    def count_children(self) -> dict[str, int]:
        return self._call("count_children")

    def tree(self) -> dict[str, Any]:
        """This supervisor and, recursively, its child supervisors."""
        tree = self._call("tree")
        for child in tree["children"]:
            if child["type"] == "supervisor" and child["pid"] is not None:
                try:
                    child["tree"] = SupervisorRef(self.node, child["pid"]).tree()
                except Error:
                    child["tree"] = None  # it ended meanwhile
        return tree

    @property
    def alive(self) -> bool:
        return self.node.is_alive(self.pid)

    def stop(self, timeout: float | None = 30.0) -> tuple[Any, Error | None]:
        """Shut the tree down (children in reverse start order) and wait; its result."""
        done = threading.Event()
        outcome: list[tuple[Any, Error | None]] = []
        host = self.node.host(self.pid.host)

        def ended(value: Any, error: Error | None) -> None:
            outcome.append((value, error))
            done.set()

        host.watch(self.pid, ended)
        if not done.is_set():
            try:
                self.node.cancel(self.pid, reason="shutdown")
            except Error:
                pass  # it ended on its own meanwhile
        if not done.wait(timeout):
            raise Error(errors.TIMEOUT, f"supervisor {self.pid} still stopping after {timeout} s")
        return outcome[0]

    def __repr__(self) -> str:
        return f"<SupervisorRef {self.pid}>"


def start_supervisor(
    node: Node,
    spec: SupervisorSpec,
    *,
    host: str | None = None,
    timeout: float | None = 30.0,
    clock: Callable[[], float] = time.monotonic,
    timers: Any = None,
    uniform: Callable[[float, float], float] = random.uniform,
    link: bool = False,
    monitor: bool = False,
) -> SupervisorRef:
    """Start a supervisor and its children (from a thread, not from a pool process).

    Raises the child's error (wrapped with its id) when a child fails to
    start; the children already started are stopped first.  ``link`` and
    ``monitor`` attach the calling process (an actor, or a probe in
    ``probe.acting()``) to the supervisor.
    """
    ready: ThreadingFuture[Any] = ThreadingFuture()
    pid = node.spawn(
        Supervisor, spec, ready, clock, timers, uniform, host=host, name=spec.name, link=link, monitor=monitor
    )
    try:
        ready.get(timeout=timeout)
    except pykka.Timeout:
        raise Error(errors.TIMEOUT, f"supervisor {pid} did not start in {timeout} s") from None
    return SupervisorRef(node, pid)


def start_dynamic_supervisor(
    node: Node,
    template: ChildSpec,
    *,
    max_children: int | None = None,
    max_restarts: int = 3,
    max_seconds: float = 5.0,
    **options: Any,
) -> SupervisorRef:
    """A ``simple_one_for_one`` supervisor: children are started later from ``template``."""
    spec = SupervisorSpec(
        strategy="simple_one_for_one",
        template=template,
        max_children=max_children,
        max_restarts=max_restarts,
        max_seconds=max_seconds,
        backoff=options.pop("backoff", None),
        name=options.pop("name", None),
    )
    return start_supervisor(node, spec, **options)
