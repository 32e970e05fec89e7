"""``Supervisor``: OTP's supervisor behaviour, as a process of the actors runtime.

A supervisor is an :class:`actors.Actor` that traps links.  It starts its
children, linked and monitored, each after the children it needs (see
``SupervisorSpec.order``); when one ends it applies the child's restart rule
and its own strategy (``one_for_one``, ``one_for_all``, ``rest_for_one``, or
``simple_one_for_one`` for dynamic children), after the child's backoff
delay, within a restart intensity (``max_restarts`` in ``max_seconds``).
Past the intensity it stops every child and exits with an error, so its own
supervisor applies its strategy: escalation.  A child with ``max_attempts``
is given up alone instead (state ``failed``) and the others run on.

``process.service`` entries are one configuration of this supervisor (see
:mod:`supervision.service`), not a second one.

Stopping a child follows the process core's rules, not a side channel:
``brutal_kill`` terminates it; a timeout sends a CANCEL with that deadline
(the core terminates the child when it passes); ``infinity`` sends a CANCEL
and waits.  A child is stopped once every child that needs it has ended, so
with the OTP order children stop one at a time in reverse start order, and
with declared requirements the children of one level stop together: the
whole stop takes the sum, over levels, of the longest shutdown in each.  The
supervisor never blocks: each step is a reaction to an event in its mailbox.

Every child is in one :class:`~supervision.state.ChildState` and moves only
along the documented transitions.
"""

from __future__ import annotations

import itertools
import logging
import random
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from pykka import ThreadingFuture

from actors import PID, Actor, Cancel, Error, Exit, LinkDown, Node, errors
from supervision import _order
from supervision._child import Child
from supervision._messages import Call, Later, RestartDue, Started, tell
from supervision.spec import ChildSpec, SupervisorSpec
from supervision.state import ChildState

__all__ = ["INTENSITY_MESSAGE", "TERMINAL_START_ERRORS", "Supervisor"]

logger = logging.getLogger("supervision")

INTENSITY_MESSAGE = "reached max restart intensity"
TERMINAL_START_ERRORS = (errors.INVALID, errors.NOT_FOUND, errors.PERMISSION_DENIED)
"""Kinds of start errors that no retry can cure: a ``retryable`` child is given up at once."""

_READ_ONLY = ("which_children", "count_children", "tree")


class _TellParent:
    """The ``ready`` of a nested supervisor: tells its parent once all its children started.

    A nested supervisor that fails to start exits with the error, which its
    parent sees as the child's EXIT.
    """

    def __init__(self, parent: Any) -> None:
        self.parent = parent

    def set(self, pid: PID) -> None:
        tell(self.parent, Started(pid))

    def set_exception(self, exc_info: Any = None) -> None:
        pass


class Supervisor(Actor):
    """The supervisor process.  Start it with :func:`supervision.start_supervisor`."""

    def __init__(
        self,
        spec: SupervisorSpec,
        ready: ThreadingFuture[Any] | _TellParent | None = None,
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
        self._children: list[Child] = []
        self._by_pid: dict[PID, Child] = {}
        self._stopping: dict[PID, list[Callable[[], None]]] = {}
        """Children asked to stop: what to do when their EXIT arrives."""
        self._awaiting: dict[PID, Callable[[Error | None], None]] = {}
        """Children whose first step is under way: what to do when it ends (error or None)."""
        self._restart_times: deque[float] = deque()
        self._due: deque[list[Child]] = deque()
        """Groups to restart now (no backoff), taken one after the other by ``_restart_due``."""
        self._restarting_due = False
        self._restart_timers: dict[int, Any] = {}
        self._timer_keys = itertools.count(1)
        self._dynamic_ids = itertools.count(1)
        self._owed: set[Later] = set()
        """Answers promised to callers and not given yet."""
        self._shutting_down = False
        self._ref: Any = None
        self.total_restarts = 0

    # -- life ---------------------------------------------------------------------------------

    def on_start(self) -> None:
        self.trap_links = True
        self._ref = self.actor_ref  # made here, before any child's thread reads it
        if self._timers is None:
            self._timers = self.node.timers
        self._children = [Child(child) for child in self.spec.children]
        wanted = [child for child in self._children if child.spec.auto_start]
        if self.spec.order == "declared":
            needed = {other for child in wanted for other in self._requirements(child)}
            wanted = [child for child in self._children if child.spec.auto_start or child in needed]
        self._start_together(wanted, self._started_all, self._failed_to_start)

    def _started_all(self) -> None:
        if self._ready is not None:
            self._ready.set(self.pid)

    def _failed_to_start(self, child: Child, err: Error) -> None:
        failure = _start_failure(child.id, err)
        logger.warning("supervisor %s: %s", self.pid, failure.message())
        self._shutdown(failure)

    def on_event(self, event: Exit | LinkDown | Cancel) -> None:
        if isinstance(event, Exit):
            self._on_exit(event)
        elif isinstance(event, Cancel):
            self._shutdown(None)

    def on_parent_down(self, event: LinkDown) -> None:
        # OTP: an exit signal from the parent means "shut down now, for that reason".
        self._shutdown(event.error)

    def on_receive(self, message: Any) -> Any:
        if isinstance(message, Started):
            initialised = self._awaiting.pop(message.pid, None)
            if initialised is not None:
                initialised(None)
        elif isinstance(message, RestartDue):
            self._restart_timers.pop(message.key, None)
            group = [child for child in self._children if child.id in message.group]
            self._restart_group([child for child in group if child.restart_timer == message.key])
        elif isinstance(message, Call):
            return self._answer(message)
        return None

    def _stop(self) -> None:
        # pykka's graceful stop (``ActorRef.stop()``): the children stop first, as on a CANCEL.
        self._shutdown(None)

    def on_failure(self, exception_type: Any, exception_value: Any, traceback: Any) -> None:
        # Terminated, killed by a link or crashed: no backoff timer may outlive us, no caller may
        # wait on, and start_supervisor learns why at once instead of at its timeout.
        self._ended()
        if isinstance(self._ready, ThreadingFuture) and exception_value is not None:
            error = errors.from_exception(exception_value)
            try:
                self._ready.set_exception(exc_info=(Error, error, None))
            except Exception:
                pass  # it had started: nobody waits

    def _ended(self) -> None:
        for timer in self._restart_timers.values():
            timer.cancel()
        self._restart_timers.clear()
        owed, self._owed = self._owed, set()
        for later in owed:
            later.fail(Error(errors.NOT_FOUND, f"supervisor {self.pid} ended before answering"))

    # -- starting ------------------------------------------------------------------------------

    def _start(self, child: Child, wait: bool) -> bool:
        """Spawn ``child``; True when its first step is awaited (a ``Started`` will say it is over).

        Raises an :class:`Error` when it cannot start, whatever the user code raised.
        """
        try:
            spec = child.spec
            start = spec.start
            node: Node = self.node
            itself = spec.spawns_itself()
            wait = wait and spec.await_start and not itself
            on_started = self._tell_started if wait else None
            if isinstance(start, SupervisorSpec):
                ready = _TellParent(self.actor_ref) if wait else None
                pid = node.spawn(
                    Supervisor,
                    start,
                    ready,
                    self._clock,
                    self._timers,
                    self._uniform,
                    link=True,
                    monitor=True,
                )
            elif itself:
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
                pid = node.spawn(
                    start, *spec.args, host=spec.host, link=True, monitor=True, on_started=on_started
                )
            else:
                pid = node.spawn(
                    start, *spec.args, link=True, monitor=True, on_started=on_started, **spec.kwargs
                )
        except Error:
            raise
        except Exception as exc:  # a child's __init__ or a start callable that raised
            raise errors.from_exception(exc) from exc
        child.pid = pid
        child.started_at = self._clock()
        child.restart_timer = None
        child.move(ChildState.STARTING if wait else ChildState.RUNNING)
        self._by_pid[pid] = child
        return wait

    def _tell_started(self, pid: PID) -> None:
        """A child's ``on_started`` (on the child's thread): tell this supervisor."""
        tell(self._ref, Started(pid))

    def _start_together(
        self,
        children: list[Child],
        done: Callable[[], None],
        failed: Callable[[Child, Error], None],
    ) -> None:
        """Start ``children``, each once those of them it needs have finished their first step.

        ``done()`` when all are up; ``failed(child, error)`` when one that is not
        ``retryable`` fails to start (nothing more is started).  A ``retryable``
        child that fails to start is left to its restart rule and counts as up.
        """
        pending = _order.start_order(children, self.spec.order)
        chosen = set(pending)
        up: set[Child] = set()
        waiting: set[Child] = set()
        over = False
        sequential = self.spec.order == "sequential"
        position = 0  # sequential: the next child of ``pending`` to start

        def ready(child: Child) -> bool:
            return all(
                need in up or need not in chosen for need in self._children if need.id in child.spec.requires
            )

        def launch(child: Child) -> bool:
            """Start ``child``; False when the run is over (a start failed)."""
            nonlocal over
            try:
                wait = self._start(child, wait=True)
            except Error as err:
                if self._left_to_its_rule(child, err):
                    if self._shutting_down:  # its failed restarts reached the intensity
                        over = True  # the shutdown answers (``ready``, a start_child's caller)
                        return False
                    up.add(child)
                    return True
                over = True
                failed(child, err)
                return False
            if wait:
                waiting.add(child)
                assert child.pid is not None
                self._awaiting[child.pid] = lambda error: initialised(child, error)
            else:
                up.add(child)
            return True

        def advance() -> None:
            nonlocal over, position
            if over or self._shutting_down:
                return
            if sequential:  # one at a time, each once the one before is up
                while position < len(pending) and not waiting:
                    position += 1
                    if not launch(pending[position - 1]):
                        return
                left = position < len(pending)
            else:  # every child whose needs are up, again until nothing more can start
                started = True
                while started:
                    started = False
                    for child in [child for child in pending if ready(child)]:
                        pending.remove(child)
                        started = True
                        if not launch(child):
                            return
                left = bool(pending)
            if not left and not waiting and not over:
                over = True
                done()

        def initialised(child: Child, error: Error | None) -> None:
            nonlocal over
            waiting.discard(child)
            if error is not None:
                if not over:
                    over = True
                    failed(child, error)
                return
            if child.state is ChildState.STARTING:  # not when a stop was asked meanwhile
                child.move(ChildState.RUNNING)
            up.add(child)
            advance()

        advance()

    def _left_to_its_rule(self, child: Child, err: Error) -> bool:
        """A ``retryable`` child that failed to start goes by its restart rule (True); others don't."""
        if child.spec.restart != "retryable":
            child.last_error = err
            child.move(ChildState.FAILED)
            return False
        child.last_error = err
        self._child_ended(child, err, start_failed=True)
        return True

    # -- ends of children --------------------------------------------------------------------------

    def _on_exit(self, event: Exit) -> None:
        child = self._by_pid.pop(event.pid, None)
        if child is None:
            return
        child.pid = None
        child.last_error = event.error
        waiters = self._stopping.pop(event.pid, None)
        initialised = self._awaiting.pop(event.pid, None)
        if waiters is not None or self._shutting_down:
            child.move(ChildState.STOPPED)  # an end we asked for, or one we no longer act on
            if initialised is not None:
                initialised(event.error or Error(errors.CANCELED, "stopped during its start"))
            for waiter in waiters or ():
                waiter()
            return
        if initialised is not None:
            if event.error is not None:
                # It failed in its first step: a failed start, not a crash to restart.
                if child.spec.restart == "retryable":
                    initialised(None)
                    self._child_ended(child, event.error, start_failed=True)
                else:
                    child.move(ChildState.FAILED)
                    initialised(event.error)
                return
            initialised(None)  # it started and ended in its first step: an ordinary end
        self._child_ended(child, event.error)

    def _child_ended(self, child: Child, error: Error | None, start_failed: bool = False) -> None:
        """Apply ``child``'s restart rule, then the strategy, to an end the supervisor did not ask for."""
        restart = child.spec.restart
        if restart == "retryable":
            if (
                start_failed
                and error is not None
                and (error.kind() in TERMINAL_START_ERRORS or error.retryable() is False)
            ):
                child.move(ChildState.FAILED)
                logger.error("supervisor %s: child %s cannot start: %s", self.pid, child.id, error)
                return
            if not start_failed and (error is None or error.retryable() is False):
                child.move(ChildState.EXITED)
                if error is not None:
                    logger.warning(
                        "supervisor %s: child %s ended with a non-retryable error: %s",
                        self.pid,
                        child.id,
                        error,
                    )
                return
        elif restart == "temporary" or (restart == "transient" and error is None):
            child.move(ChildState.EXITED)
            if restart == "temporary" or self.spec.strategy == "simple_one_for_one":
                self._remove(child)
            return
        # A failure: a restart is due, unless the child or the supervisor gives up.
        backoff = child.spec.backoff or self.spec.backoff
        delay: float | None = None
        if backoff is not None:
            ran = 0.0 if start_failed else self._clock() - child.started_at
            child.attempts = 1 if ran >= backoff.reset_after else child.attempts + 1
            limit = child.spec.max_attempts
            if limit and child.attempts >= limit:
                child.move(ChildState.FAILED)
                logger.error(
                    "supervisor %s: child %s failed %d times in a row and will not be restarted; last error: %s",
                    self.pid,
                    child.id,
                    child.attempts,
                    error,
                )
                return
            delay = backoff.delay(child.attempts, self._uniform)
        if not self._within_intensity():
            child.move(ChildState.FAILED)
            failure = Error(
                errors.LIMIT_EXCEEDED,
                f"{INTENSITY_MESSAGE}: more than {self.spec.max_restarts} restarts in {self.spec.max_seconds} s",
                details={
                    "child": child.id,
                    "reason": {"kind": error.kind(), "message": error.message()}
                    if error is not None
                    else None,
                },
            )
            logger.error("supervisor %s: %s (last: child %s)", self.pid, failure.message(), child.id)
            self._shutdown(failure)
            return
        if delay is not None:
            logger.warning(
                "supervisor %s: child %s failed (%s); restart %d in %.2f s",
                self.pid,
                child.id,
                error,
                child.attempts,
                delay,
            )
        child.move(ChildState.RESTARTING)
        strategy = self.spec.strategy
        if strategy in ("one_for_one", "simple_one_for_one"):
            self._schedule_restart([child], delay)
            return
        if strategy == "one_for_all":
            affected = list(self._children)
        else:
            affected = [child, *_order.dependents(child, self._children, self.spec.order)]
        running = [other for other in affected if other is not child and other.pid is not None]

        def restart_affected() -> None:
            for other in affected:
                if other.spec.restart == "temporary":
                    self._remove(other)
            waiting = [other for other in affected if other in self._children and other.pid is None]
            self._schedule_restart(waiting, delay)

        self._stop_together(running, restart_affected)

    def _within_intensity(self) -> bool:
        """Record a restart; False when there were more than ``max_restarts`` in ``max_seconds``."""
        if self.spec.max_restarts is None:
            return True
        now = self._clock()
        window = self._restart_times
        window.append(now)
        while window and now - window[0] > self.spec.max_seconds:
            window.popleft()
        return len(window) <= self.spec.max_restarts

    def _schedule_restart(self, group: list[Child], delay: float | None) -> None:
        if not group or self._shutting_down:
            return
        for child in group:
            child.move(ChildState.RESTARTING)  # terminate_child meanwhile makes it STOPPED: no restart
        if delay is None:
            self._due.append(group)
            self._restart_due()
            return
        key = next(self._timer_keys)
        message = RestartDue(key, tuple(child.id for child in group))
        for child in group:
            child.restart_timer = key
        ref = self.actor_ref
        self._restart_timers[key] = self._timers.call_later(delay, lambda: tell(ref, message))

    def _restart_due(self) -> None:
        """Restart the groups due now, one after the other, in a loop rather than nested calls.

        A restart whose start fails at once schedules the next restart from
        inside this one (``_child_ended``); with no backoff that next restart
        is due at once too.  Taken here in turn, a child that keeps failing
        costs one loop turn per restart, never a deeper stack, so any
        ``max_restarts`` ends at the intensity error, not at Python's
        recursion limit.
        """
        if self._restarting_due:
            return  # the loop below, further up the stack, takes it next
        self._restarting_due = True
        try:
            while self._due:
                self._restart_group(self._due.popleft())
        finally:
            self._restarting_due = False
            self._due.clear()

    def _restart_group(self, group: list[Child]) -> None:
        """Start again the children of ``group`` still waiting, in start order (not awaited)."""
        if self._shutting_down:
            return
        for child in group if len(group) == 1 else _order.start_order(group, self.spec.order):
            if child not in self._children or child.state is not ChildState.RESTARTING:
                continue
            try:
                self._start(child, wait=False)  # a crash in its first step is an EXIT like any other
            except Error as err:
                logger.warning("supervisor %s: restarting %s failed: %s", self.pid, child.id, err)
                child.last_error = err
                self._child_ended(child, err, start_failed=True)
                return
            child.restarts += 1
            self.total_restarts += 1

    def _leave_restarting(self, child: Child) -> None:
        """``child`` no longer waits for a restart: drop the timer once its whole group is out."""
        key = child.restart_timer
        child.restart_timer = None
        if key is None or any(other.restart_timer == key for other in self._children):
            return
        timer = self._restart_timers.pop(key, None)
        if timer is not None:
            timer.cancel()

    def _remove(self, child: Child) -> None:
        if child in self._children:
            self._children.remove(child)
            self._leave_restarting(child)

    def _requirements(self, child: Child) -> list[Child]:
        return _order.requirements(child, self._children, self.spec.order)

    # -- stopping -----------------------------------------------------------------------------------

    def _stop_child(self, child: Child, done: Callable[[], None]) -> bool:
        """Stop ``child`` by its shutdown rule; True when nothing runs (``done`` is not called),
        else ``done()`` once its EXIT arrives."""
        pid = child.pid
        if pid is None:
            if child.state is ChildState.RESTARTING:
                self._leave_restarting(child)
                child.move(ChildState.STOPPED)
            return True
        waiters = self._stopping.get(pid)
        if waiters is not None:  # already being stopped: wait for the same EXIT
            waiters.append(done)
            return False
        self._stopping[pid] = [done]
        child.move(ChildState.STOPPING)
        policy = child.spec.shutdown_policy
        try:
            if policy == "brutal_kill":
                self.node.terminate(pid)
            elif policy == "infinity":
                self.node.cancel(pid, reason=self.spec.stop_reason)
            else:
                self.node.cancel(pid, deadline=float(policy), reason=self.spec.stop_reason)
        except Error:
            pass  # it ended meanwhile: its EXIT is on the way (the supervisor monitors it)
        return False

    def _stop_together(self, children: list[Child], then: Callable[[], None]) -> None:
        """Stop ``children``, each once every one of them that needs it has ended; then ``then()``.

        Children with no need between them stop at the same time, so a level of
        children that ignore CANCEL takes its longest shutdown, not the sum.
        """
        remaining = [
            child for child in children if child.pid is not None or child.state is ChildState.RESTARTING
        ]
        if self.spec.order == "sequential":
            remaining.reverse()
            self._stop_in_turn(remaining, then)
            return
        blockers = {
            child: {
                other
                for other in _order.dependents(child, self._children, self.spec.order)
                if other in remaining
            }
            for child in remaining
        }
        launched: set[Child] = set()
        finished = False

        def ended(child: Child) -> None:
            if child in remaining:
                remaining.remove(child)
            for waiting in blockers.values():
                waiting.discard(child)

        def launch() -> None:
            nonlocal finished
            progress = True
            while progress:
                progress = False
                for child in reversed(list(remaining)):
                    if child in launched or blockers[child]:
                        continue
                    launched.add(child)
                    if self._stop_child(child, lambda child=child: (ended(child), launch())):
                        ended(child)
                        progress = True
            if not remaining and not finished:
                finished = True
                then()

        launch()

    def _stop_in_turn(self, children: list[Child], then: Callable[[], None]) -> None:
        """Stop ``children`` one after the other, each once the previous one's EXIT arrived."""
        queue = deque(children)

        def next_one() -> None:
            while queue:
                if not self._stop_child(queue.popleft(), next_one):
                    return
            then()

        next_one()

    def _shutdown(self, error: Error | None) -> None:
        """Stop every child (the ones that need others first), then exit (with ``error``)."""
        if self._shutting_down:
            return
        self._shutting_down = True
        for timer in self._restart_timers.values():
            timer.cancel()
        self._restart_timers.clear()

        def finish() -> None:
            if self._ready is not None and error is not None:
                try:
                    self._ready.set_exception(exc_info=(Error, error, None))
                except Exception:
                    pass  # already answered: this is a later failure
            self._ended()
            self.exit(error=error)

        self._stop_together(list(self._children), finish)

    # -- requests ------------------------------------------------------------------------------------

    def _answer(self, call: Call) -> Any:
        handler = getattr(self, f"_call_{call.op}", None)
        if handler is None:
            raise Error(errors.INVALID, f"unknown supervisor request {call.op!r}")
        if self._shutting_down and call.op not in _READ_ONLY:
            raise Error(errors.UNAVAILABLE, "the supervisor is shutting down")
        return handler(*call.args)

    def _later(self) -> Later:
        later = Later()
        self._owed.add(later)
        return later

    def _settle(self, later: Later, value: Any = None, error: Error | None = None) -> None:
        if later in self._owed:
            self._owed.discard(later)
            if error is not None:
                later.fail(error)
            else:
                later.answer(value)

    def _find(self, key: str | PID) -> Child:
        for child in self._children:
            if child.id == key or (child.pid is not None and child.pid == key):
                return child
        raise Error(errors.NOT_FOUND, f"no child {key}")

    def _call_start_child(self, *args: Any) -> Any:
        if self.spec.strategy == "simple_one_for_one":
            template = self.spec.template
            if template is None:  # pragma: no cover - SupervisorSpec requires it
                raise Error(errors.INVALID, "simple_one_for_one needs a template")
            limit = self.spec.max_children
            if limit is not None and len(self._children) >= limit:
                raise Error(errors.LIMIT_EXCEEDED, f"max_children ({limit}) reached")
            spec = ChildSpec(
                f"{template.id}-{next(self._dynamic_ids)}",
                template.start,
                args=(*template.args, *args),
                kwargs=template.kwargs,
                restart=template.restart,
                shutdown=template.shutdown,
                type=template.type,
                host=template.host,
                backoff=template.backoff,
                max_attempts=template.max_attempts,
                await_start=template.await_start,
            )
        else:
            spec = args[0] if args else None
            if not isinstance(spec, ChildSpec):
                raise Error(errors.INVALID, "start_child needs a ChildSpec")
            if any(child.id == spec.id for child in self._children):
                raise Error(errors.ALREADY_EXISTS, f"child {spec.id} already exists")
            self.spec.check_child(spec, [child.id for child in self._children])
        child = Child(spec)
        self._children.append(child)
        later = self._later()

        def failed(_which: Child, error: Error) -> None:
            self._remove(child)  # OTP: a child that fails to start is not kept
            self._settle(later, error=_start_failure(spec.id, error))

        self._start_together([child], lambda: self._settle(later, child.pid), failed)
        return later

    def _call_terminate_child(self, key: str | PID, dependents: bool = False) -> Later:
        child = self._find(key)
        group = [child]
        if dependents:
            group += _order.dependents(child, self._children, self.spec.order)
        later = self._later()

        def stopped() -> None:
            if child.spec.restart == "temporary" or self.spec.strategy == "simple_one_for_one":
                self._remove(child)
            self._settle(later)

        self._stop_together(group, stopped)
        return later

    def _call_restart_child(self, child_id: str) -> PID | None:
        child = self._find(child_id)
        if child.pid is not None:
            raise Error(errors.ALREADY_EXISTS, f"child {child.id} is running")
        group = [child]
        if self.spec.order == "declared":
            group = [*(need for need in self._requirements(child) if need.pid is None), child]
        child.attempts = 0  # started by hand: its failure count starts again
        for member in group:
            self._leave_restarting(member)
            try:
                self._start(member, wait=False)
            except Error as err:
                if not self._left_to_its_rule(member, err):
                    raise
        return child.pid

    def _call_delete_child(self, child_id: str) -> None:
        child = self._find(child_id)
        if child.pid is not None or child.state is ChildState.RESTARTING:
            raise Error(errors.INVALID_STATE, f"child {child.id} is running: terminate it first")
        users = [other.id for other in self._children if child.id in other.spec.requires]
        if users:
            raise Error(errors.INVALID_STATE, f"child {child.id} is required by {', '.join(users)}")
        self._remove(child)

    def _call_which_children(self) -> list[dict[str, Any]]:
        return [child.describe() for child in self._children]

    def _call_count_children(self) -> dict[str, int]:
        kinds = [child.spec.child_type for child in self._children]
        return {
            "specs": len(self._children),
            "active": sum(1 for child in self._children if child.pid is not None),
            "supervisors": kinds.count("supervisor"),
            "workers": kinds.count("worker"),
        }

    def _call_tree(self) -> dict[str, Any]:
        return {
            "id": self.spec.name or str(self.pid),
            "pid": self.pid,
            "strategy": self.spec.strategy,
            "status": ChildState.STOPPING if self._shutting_down else ChildState.RUNNING,
            "restarts": self.total_restarts,
            "children": [child.describe() for child in self._children],
        }


def _start_failure(child_id: str, cause: Error) -> Error:
    """The error a failed start reports: the child's own, named after the child."""
    return Error(
        cause.kind(),
        f"child {child_id} failed to start: {cause.message()}",
        retryable=cause.retryable(),
        details={"child": child_id},
    )
