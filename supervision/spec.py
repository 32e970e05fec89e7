"""Child specifications, checked up front like OTP's ``supervisor:check_childspecs``.

A child is started by ``start``, which is one of:

* an :class:`actors.Actor` subclass or an ``async def`` process function,
  spawned with ``args``/``kwargs``;
* a ``process.lua`` entry ID (``"app:worker"``), spawned on ``host``;
* a :class:`SupervisorSpec`, a nested supervisor (type ``supervisor``);
* any callable ``start(*args) -> PID`` that spawns the child and links it to
  the calling process (the supervisor).

``restart``: ``permanent`` (always restarted), ``transient`` (restarted after
an abnormal exit), ``temporary`` (never restarted, removed when it ends).
``shutdown``: ``"brutal_kill"`` (terminate at once), a number of seconds (a
CANCEL with that deadline, then termination), or ``"infinity"`` (a CANCEL,
and wait as long as it takes; the default for supervisors).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from actors import Actor, errors

__all__ = [
    "RESTARTS",
    "STRATEGIES",
    "Backoff",
    "ChildSpec",
    "Restart",
    "Shutdown",
    "Strategy",
    "SupervisorSpec",
    "supervisor_child",
]

Restart = Literal["permanent", "transient", "temporary"]
Strategy = Literal["one_for_one", "one_for_all", "rest_for_one", "simple_one_for_one"]
Shutdown = float | Literal["brutal_kill", "infinity"]

RESTARTS = ("permanent", "transient", "temporary")
STRATEGIES = ("one_for_one", "one_for_all", "rest_for_one", "simple_one_for_one")


@dataclass(frozen=True)
class Backoff:
    """Delay before a restart: ``initial * factor**(n-1)``, at most ``maximum``, ± ``jitter``.

    ``n`` counts consecutive restarts of the same child; it starts again at 1
    once the child has run for ``reset_after`` seconds.
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
        start = self.start
        if isinstance(start, (SupervisorSpec, str)):
            return False
        if isinstance(start, type) and issubclass(start, Actor):
            return False
        return not inspect.iscoroutinefunction(start)


@dataclass(frozen=True)
class SupervisorSpec:
    """A supervisor's strategy, intensity and children."""

    children: Sequence[ChildSpec] = ()
    strategy: Strategy = "one_for_one"
    max_restarts: int = 3
    max_seconds: float = 5.0
    backoff: Backoff | None = None
    max_children: int | None = None
    """For ``simple_one_for_one``: the most children at once (``None``: no limit)."""
    template: ChildSpec | None = None
    """For ``simple_one_for_one``: the spec every dynamic child is started from."""
    name: str | None = None

    def __post_init__(self) -> None:
        if self.strategy not in STRATEGIES:
            raise errors.Error(errors.INVALID, f"strategy must be one of {', '.join(STRATEGIES)}")
        if (
            isinstance(self.max_restarts, bool)
            or not isinstance(self.max_restarts, int)
            or self.max_restarts < 0
        ):
            raise errors.Error(errors.INVALID, "max_restarts must be a non-negative integer")
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


def supervisor_child(child_id: str, spec: SupervisorSpec, **options: Any) -> ChildSpec:
    """A nested supervisor as a child (type ``supervisor``, shutdown ``infinity``)."""
    return ChildSpec(child_id, spec, type="supervisor", **options)
