"""Starting a supervisor, and :class:`SupervisorRef`, the handle to a running one.

The handle is for threads outside the pool (a test, the CLI, an app's
start-up): every method is a request answered by the supervisor's own process
(see :mod:`supervision._messages`), so what it reports is always one
consistent picture.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from typing import Any

import pykka
from pykka import ThreadingFuture

from actors import PID, Error, Node, errors
from supervision._messages import ask
from supervision.spec import ChildSpec, SupervisorSpec
from supervision.supervisor import Supervisor

__all__ = ["SupervisorRef", "start_dynamic_supervisor", "start_supervisor"]


class SupervisorRef:
    """A handle to a running supervisor, usable from any thread outside the pool."""

    def __init__(self, node: Node, pid: PID) -> None:
        self.node = node
        self.pid = pid

    def _call(self, op: str, *args: Any, timeout: float | None = 30.0) -> Any:
        return ask(self.node, self.pid, op, *args, timeout=timeout)

    # -- children --------------------------------------------------------------------------------

    def start_child(self, spec_or_args: Any = None, *args: Any, timeout: float | None = 30.0) -> PID | None:
        """Start a child: a ChildSpec, or (dynamic supervisors) extra start arguments.

        Waits for the child's first step, as OTP does; a child that fails to
        start is not kept and its error is raised (a ``retryable`` child is
        kept and left to its restart rule instead: ``None`` then).
        """
        payload = (spec_or_args, *args) if spec_or_args is not None else args
        return self._call("start_child", *payload, timeout=timeout)

    def terminate_child(
        self, child: str | PID, timeout: float | None = None, *, dependents: bool = False
    ) -> None:
        """Stop a child by its shutdown rule and wait for its end (the spec stays, unless temporary).

        With ``dependents``, the running children that need it stop first.
        """
        self._call("terminate_child", child, dependents, timeout=timeout)

    def restart_child(self, child_id: str) -> PID | None:
        """Start a child that is not running (stopped, exited, failed or waiting for its backoff).

        Under ``order="declared"`` the children it needs that do not run start
        first.  Its failure count starts again.  ``ALREADY_EXISTS`` when it
        runs; a start error is raised, except for a ``retryable`` child, which
        its restart rule takes care of (``None`` when it did not start).
        """
        return self._call("restart_child", child_id)

    def delete_child(self, child_id: str) -> None:
        """Forget a child that does not run (OTP's ``delete_child``)."""
        self._call("delete_child", child_id)

    # -- looking at it ---------------------------------------------------------------------------

    def which_children(self) -> list[dict[str, Any]]:
        """One dict per child, in start order: ``id``, ``pid`` (``None`` when not running),
        ``status`` (a :class:`~supervision.state.ChildState`), ``restarts``, ``attempts``,
        ``last_error`` (``{"kind", "message"}`` or ``None``), ``type`` and ``restart``."""
        return self._call("which_children")

    def count_children(self) -> dict[str, int]:
        return self._call("count_children")

    def tree(self) -> dict[str, Any]:
        """This supervisor and, recursively, its child supervisors, as plain data.

        ``id``, ``pid``, ``strategy``, ``status`` (``running`` or ``stopping``),
        ``restarts`` (all restarts it made) and ``children`` (as
        :meth:`which_children`); a child that is a running supervisor has its
        own tree under ``tree``.  :func:`supervision.format_tree` prints it.
        """
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

    # -- ending it -------------------------------------------------------------------------------

    def stop(self, timeout: float | None = 30.0) -> tuple[Any, Error | None]:
        """Shut the tree down and wait for the supervisor's end; its result ``(value, error)``.

        Children stop after the ones that need them, each by its shutdown
        rule, so the wait is bounded by the sum over levels of the longest
        numeric shutdown.  ``TIMEOUT`` after ``timeout`` seconds (the tree
        goes on stopping; :meth:`kill` ends it at once).
        """
        return self._end(lambda: self.node.cancel(self.pid, reason="shutdown"), timeout)

    def kill(self, timeout: float | None = 5.0) -> tuple[Any, Error | None]:
        """Terminate the supervisor now; its children end with it (OTP's parent rule)."""
        return self._end(lambda: self.node.terminate(self.pid), timeout)

    def _end(self, signal: Callable[[], None], timeout: float | None) -> tuple[Any, Error | None]:
        done = threading.Event()
        outcome: list[tuple[Any, Error | None]] = []

        def ended(value: Any, error: Error | None) -> None:
            outcome.append((value, error))
            done.set()

        self.node.host(self.pid.host).watch(self.pid, ended)
        if not done.is_set():
            try:
                signal()
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
    ``probe.acting()``) to the supervisor.  ``clock``, ``timers`` and
    ``uniform`` replace time, the node's timer thread and the jitter's
    randomness (tests).
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
