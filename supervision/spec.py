"""Child and supervisor specifications, checked up front like OTP's ``supervisor:check_childspecs``.

A child is started by ``start``, which is one of:

* an :class:`actors.Actor` subclass or an ``async def`` process function,
  spawned with ``args``/``kwargs``;
* a ``process.lua`` entry ID (``"app:worker"``), spawned on ``host``;
* a :class:`SupervisorSpec`, a nested supervisor (type ``supervisor``);
* any callable ``start(*args) -> PID`` that spawns the child and links it to
  the calling process (the supervisor).

``restart``: ``permanent`` (always restarted), ``transient`` (restarted after
an abnormal exit), ``temporary`` (never restarted, removed when it ends), or
``retryable``, the rule of ``process.service`` (spec section 11.2): restarted
after an error unless the error says ``retryable() == false``; a normal end or
such an error ends it for good (state ``exited``), and a start that fails is
retried like a crash instead of failing the supervisor.

``shutdown``: ``"brutal_kill"`` (terminate at once), a number of seconds (a
CANCEL with that deadline, then termination), or ``"infinity"`` (a CANCEL,
and wait as long as it takes; the default for supervisors).

``backoff`` and ``max_attempts`` are the child's own restart delays and the
number of failed runs in a row after which it is given up (state ``failed``,
the supervisor runs on); ``requires`` names the siblings it needs (a
supervisor with ``order="declared"`` starts them first and stops them after).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from actors import Actor, errors

__all__ = [
    "ORDERS",
    "RESTARTS",
    "STRATEGIES",
    "Backoff",
    "ChildSpec",
    "Order",
    "Restart",
    "Shutdown",
    "Strategy",
    "SupervisorSpec",
    "supervisor_child",
]

Restart = Literal["permanent", "transient", "temporary", "retryable"]
Strategy = Literal["one_for_one", "one_for_all", "rest_for_one", "simple_one_for_one"]
Shutdown = float | Literal["brutal_kill", "infinity"]
Order = Literal["sequential", "declared"]

RESTARTS = ("permanent", "transient", "temporary", "retryable")
STRATEGIES = ("one_for_one", "one_for_all", "rest_for_one", "simple_one_for_one")
ORDERS = ("sequential", "declared")


@dataclass(frozen=True)
class Backoff:
    """Delay before a restart: ``initial * factor**(n-1)``, at most ``maximum``, ± ``jitter``.

    ``n`` counts the child's failed runs in a row; it starts again at 1 once
    the child has run for ``reset_after`` seconds.  This is the one backoff
    formula: a ``process.service``'s ``lifecycle.restart`` is read into it.
    """

    initial: float = 0.1
    factor: float = 2.0
    maximum: float = 30.0
    jitter: float = 0.1
    reset_after: float = 5.0

    def __post_init__(self) -> None:
        if self.initial < 0 or self.maximum < 0 or self.reset_after < 0:
            raise errors.Error(errors.INVALID, "backoff delays must not be negative")
        if self.factor < 1:
            raise errors.Error(errors.INVALID, f"backoff factor must be at least 1, got {self.factor}")
        if not 0 <= self.jitter < 1:
            raise errors.Error(errors.INVALID, f"backoff jitter must be in [0, 1), got {self.jitter}")

    def delay(self, attempt: int, uniform: Callable[[float, float], float]) -> float:
        """Seconds to wait before restart number ``attempt`` (1-based)."""
        base = min(self.initial * self.factor ** max(0, attempt - 1), self.maximum)
        if self.jitter:
            base *= uniform(1 - self.jitter, 1 + self.jitter)
        return base


@dataclass(frozen=True)
class ChildSpec:
    """How to start, restart and stop one child."""

    id: str
    start: Any
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)
    restart: Restart = "permanent"
    shutdown: Shutdown | None = None
    type: Literal["worker", "supervisor"] | None = None
    host: str | None = None
    """Host for entry IDs (default: the node's default host)."""
    backoff: Backoff | None = None
    """This child's restart delays (default: its supervisor's ``backoff``, if any)."""
    max_attempts: int = 0
    """Failed runs in a row after which the child is given up (``failed``); 0: never given up."""
    requires: tuple[str, ...] = ()
    """Sibling ids started before this child and stopped after it (``order="declared"``)."""
    auto_start: bool = True
    """Started with the supervisor; ``False``: declared (``unknown``) until ``restart_child``."""
    await_start: bool = True
    """Wait for the child's first step (its ``on_start``; a Lua process's run to its first wait)
    before starting the children that need it, as OTP does. ``False``: it counts as started
    once spawned (``process.service``)."""
    _spawns_itself: bool = field(default=False, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.id, str) or not self.id:
            raise errors.Error(errors.INVALID, f"child id must be a non-empty string, got {self.id!r}")
        if self.restart not in RESTARTS:
            raise errors.Error(
                errors.INVALID, f"child {self.id}: restart must be one of {', '.join(RESTARTS)}"
            )
        shutdown = self.shutdown
        if shutdown is not None and shutdown not in ("brutal_kill", "infinity"):
            if isinstance(shutdown, bool) or not isinstance(shutdown, (int, float)) or shutdown < 0:
                raise errors.Error(
                    errors.INVALID,
                    f"child {self.id}: shutdown must be brutal_kill, infinity or seconds ≥ 0, got {shutdown!r}",
                )
        if self.type not in (None, "worker", "supervisor"):
            raise errors.Error(errors.INVALID, f"child {self.id}: type must be worker or supervisor")
        if self.backoff is not None and not isinstance(self.backoff, Backoff):
            raise errors.Error(errors.INVALID, f"child {self.id}: backoff must be a Backoff")
        attempts = self.max_attempts
        if isinstance(attempts, bool) or not isinstance(attempts, int) or attempts < 0:
            raise errors.Error(errors.INVALID, f"child {self.id}: max_attempts must be an integer ≥ 0")
        requires = self.requires
        if isinstance(requires, str) or not all(isinstance(item, str) for item in requires):
            raise errors.Error(errors.INVALID, f"child {self.id}: requires must be a list of child ids")
        object.__setattr__(self, "requires", tuple(requires))
        start = self.start
        valid = (
            isinstance(start, SupervisorSpec)
            or (isinstance(start, type) and issubclass(start, Actor))
            or (isinstance(start, str) and ":" in start)
            or callable(start)
        )
        if not valid:
            raise errors.Error(
                errors.INVALID,
                f"child {self.id}: start must be an Actor class, an async function, an entry ID or a callable",
            )
        itself = not (
            isinstance(start, (SupervisorSpec, str))
            or (isinstance(start, type) and issubclass(start, Actor))
            or inspect.iscoroutinefunction(start)
        )
        object.__setattr__(self, "_spawns_itself", itself)  # asked at every (re)start

    @property
    def child_type(self) -> str:
        if self.type is not None:
            return self.type
        return "supervisor" if isinstance(self.start, SupervisorSpec) else "worker"

    @property
    def shutdown_policy(self) -> Shutdown:
        if self.shutdown is not None:
            return self.shutdown
        return "infinity" if self.child_type == "supervisor" else 5.0

    def spawns_itself(self) -> bool:
        """True when ``start`` is a plain callable that spawns and links on its own."""
        return self._spawns_itself


@dataclass(frozen=True)
class SupervisorSpec:
    """A supervisor's strategy, intensity, start and stop order, and children."""

    children: Sequence[ChildSpec] = ()
    strategy: Strategy = "one_for_one"
    max_restarts: int | None = 3
    """Restarts allowed in ``max_seconds`` before the supervisor gives up and exits with an
    error (escalation); ``None``: no limit (children may still be given up by ``max_attempts``)."""
    max_seconds: float = 5.0
    backoff: Backoff | None = None
    """Restart delays for children without their own (``None``: restart at once, as OTP)."""
    max_children: int | None = None
    """For ``simple_one_for_one``: the most children at once (``None``: no limit)."""
    template: ChildSpec | None = None
    """For ``simple_one_for_one``: the spec every dynamic child is started from."""
    name: str | None = None
    order: Order = "sequential"
    """``sequential`` (OTP): each child needs every child listed before it, so children start
    one at a time in list order and stop one at a time in reverse. ``declared``: a child needs
    only what its ``requires`` names; children with no need between them start and stop
    together (``process.service``)."""
    stop_reason: str = "shutdown"
    """The reason of the CANCEL that stops a child."""

    def __post_init__(self) -> None:
        if self.strategy not in STRATEGIES:
            raise errors.Error(errors.INVALID, f"strategy must be one of {', '.join(STRATEGIES)}")
        if self.order not in ORDERS:
            raise errors.Error(errors.INVALID, f"order must be one of {', '.join(ORDERS)}")
        if self.max_restarts is not None and (
            isinstance(self.max_restarts, bool)
            or not isinstance(self.max_restarts, int)
            or self.max_restarts < 0
        ):
            raise errors.Error(errors.INVALID, "max_restarts must be a non-negative integer or None")
        if self.max_seconds <= 0:
            raise errors.Error(errors.INVALID, "max_seconds must be positive")
        ids = [child.id for child in self.children]
        duplicates = sorted({child_id for child_id in ids if ids.count(child_id) > 1})
        if duplicates:
            raise errors.Error(errors.INVALID, f"duplicate child ids: {', '.join(duplicates)}")
        if self.strategy == "simple_one_for_one":
            if self.template is None:
                raise errors.Error(errors.INVALID, "simple_one_for_one needs a template child spec")
            if self.children:
                raise errors.Error(errors.INVALID, "simple_one_for_one starts with no children")
        if self.max_children is not None and self.max_children < 1:
            raise errors.Error(errors.INVALID, "max_children must be at least 1")
        for child in [*self.children, *([self.template] if self.template is not None else [])]:
            self.check_child(child, ids)
        cycle = _cycle({child.id: child.requires for child in self.children})
        if cycle:
            raise errors.Error(errors.INVALID, f"children require each other in a cycle: {' → '.join(cycle)}")

    def check_child(self, child: ChildSpec, siblings: Sequence[str]) -> None:
        """Refuse a child this supervisor cannot run (also a child added later: it cannot close
        a cycle, since no sibling can require an id that did not exist)."""
        if self.max_restarts is None and child.backoff is None and self.backoff is None:
            raise errors.Error(
                errors.INVALID,
                f"child {child.id}: with max_restarts=None it needs a backoff (or a child that keeps "
                "failing to start would be restarted in a busy loop)",
            )
        if child.max_attempts and child.backoff is None and self.backoff is None:
            raise errors.Error(
                errors.INVALID,
                f"child {child.id}: max_attempts needs a backoff (its reset_after says when a run was stable)",
            )
        if not child.requires:
            return
        if self.order != "declared":
            raise errors.Error(errors.INVALID, f"child {child.id}: requires needs order='declared'")
        unknown = [item for item in child.requires if item not in siblings]
        if unknown:
            raise errors.Error(
                errors.INVALID, f"child {child.id} requires unknown children: {', '.join(unknown)}"
            )


def _cycle(requires: dict[str, tuple[str, ...]]) -> list[str]:
    """A cycle in the ``requires`` graph (a path that ends where it starts), or ``[]``."""
    done: set[str] = set()
    for root in requires:
        if root in done:
            continue
        path: list[str] = []
        stack: list[tuple[str, int]] = [(root, 0)]
        while stack:
            node, index = stack.pop()
            if index == 0:
                if node in path:
                    return [*path[path.index(node) :], node]
                if node in done:
                    continue
                path.append(node)
            needs = requires.get(node, ())
            if index < len(needs):
                stack.append((node, index + 1))
                stack.append((needs[index], 0))
            else:
                path.pop()
                done.add(node)
    return []


def supervisor_child(child_id: str, spec: SupervisorSpec, **options: Any) -> ChildSpec:
    """A nested supervisor as a child (type ``supervisor``, shutdown ``infinity``)."""
    return ChildSpec(child_id, spec, type="supervisor", **options)
