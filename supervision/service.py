"""``process.service`` entries: a configuration of the supervisor, not a second one.

Every service of an app is a child of one :class:`~supervision.Supervisor`
(``one_for_one``, no restart intensity, ``order="declared"``), made from its
entry by :meth:`ServiceSpec.child`.  The runtime's rules (spec section 11)
are the child's settings:

* ``restart="retryable"``: a normal exit, or an error with
  ``retryable() == false``, ends the service (state ``exited``); any other
  error is a failure and restarts it; a failed start is a failure too, unless
  its error is INVALID, NOT_FOUND or PERMISSION_DENIED (state ``failed``);
* ``backoff`` from ``lifecycle.restart`` with ``stable_threshold`` as its
  ``reset_after``, and ``max_attempts``: after that many failed runs in a row
  the service is ``failed``, its last error is logged, and the rest of the
  app runs on;
* ``requires`` (with ``depends_on``) naming other services: they start
  first and stop after it; services with no requirement between them stop
  together, each bounded by its ``stop_timeout`` (the child's ``shutdown``:
  a CANCEL with reason "service stopping" and that deadline, then
  termination);
* ``await_start=False``: a service runs as soon as its spawn succeeds.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from actors import PID, Error, Node, errors
from actors.durations import duration_seconds
from actors.entries import Entry, Registry
from supervision.ref import SupervisorRef, start_supervisor
from supervision.spec import Backoff, ChildSpec, SupervisorSpec

__all__ = ["STOP_REASON", "RestartPolicy", "ServiceSpec", "Services", "services_supervisor", "start_services"]

STOP_REASON = "service stopping"


@dataclass(frozen=True)
class RestartPolicy:
    """``lifecycle.restart`` with the runtime's defaults (zero means "default").

    Its delays are :class:`~supervision.spec.Backoff`'s, the one formula.
    """

    initial_delay: float = 1.0
    max_delay: float = 90.0
    backoff_factor: float = 2.0
    jitter: float = 0.1
    max_attempts: int = 0

    def __post_init__(self) -> None:
        self.backoff()  # the same checks as every backoff

    def backoff(self, stable_threshold: float = 5.0) -> Backoff:
        """These delays as a :class:`Backoff` whose count starts again after a stable run."""
        return Backoff(
            initial=self.initial_delay,
            factor=self.backoff_factor,
            maximum=self.max_delay,
            jitter=self.jitter,
            reset_after=stable_threshold,
        )

    def delay(self, attempt: int, uniform: Callable[[float, float], float]) -> float:
        """Seconds before restart number ``attempt`` (1-based)."""
        return self.backoff().delay(attempt, uniform)


@dataclass(frozen=True)
class ServiceSpec:
    """A ``process.service`` entry, resolved."""

    id: str
    process: str
    host: str
    input: tuple[Any, ...] = ()
    auto_start: bool = False
    start_timeout: float = 10.0
    stop_timeout: float = 10.0
    stable_threshold: float = 5.0
    restart: RestartPolicy = RestartPolicy()
    requires: tuple[str, ...] = ()

    @classmethod
    def from_entry(cls, entry: Entry) -> ServiceSpec:
        """Read an entry (``INVALID`` for values no service can run with)."""
        lifecycle = entry.get("lifecycle") or {}
        restart = lifecycle.get("restart") or {}

        def seconds(value: Any, default: float, what: str) -> float:
            # "5s" strings (Go grammar) or numbers of seconds; zero means the default.
            if value in (None, 0, ""):
                return default
            return duration_seconds(value, number_unit=1.0, what=what)

        jitter = restart.get("jitter")
        policy = RestartPolicy(
            initial_delay=seconds(restart.get("initial_delay"), 1.0, "initial_delay"),
            max_delay=seconds(restart.get("max_delay"), 90.0, "max_delay"),
            backoff_factor=float(restart.get("backoff_factor") or 2.0),
            jitter=0.1 if jitter is None else float(jitter),
            max_attempts=int(restart.get("max_attempts") or 0),
        )
        requires = tuple(
            entry.ref(item)
            for item in [*(lifecycle.get("requires") or []), *(lifecycle.get("depends_on") or [])]
        )
        raw_input = entry.get("input")
        return cls(
            id=entry.id,
            process=entry.ref(str(entry.get("process"))),
            host=entry.ref(str(entry.get("host"))),
            input=tuple(raw_input)
            if isinstance(raw_input, list)
            else (() if raw_input is None else (raw_input,)),
            auto_start=bool(lifecycle.get("auto_start", False)),
            start_timeout=seconds(lifecycle.get("start_timeout"), 10.0, "start_timeout"),
            stop_timeout=seconds(lifecycle.get("stop_timeout"), 10.0, "stop_timeout"),
            stable_threshold=seconds(lifecycle.get("stable_threshold"), 5.0, "stable_threshold"),
            restart=policy,
            requires=requires,
        )

    def child(self, services: set[str], auto_start: bool = True) -> ChildSpec:
        """This service as a child of the services' supervisor (``services``: every service ID;
        a requirement that is no service, such as a host, is running before any service)."""
        return ChildSpec(
            self.id,
            self.process,
            args=self.input,
            host=self.host,
            restart="retryable",
            shutdown=self.stop_timeout,
            backoff=self.restart.backoff(self.stable_threshold),
            max_attempts=self.restart.max_attempts,
            requires=tuple(dict.fromkeys(item for item in self.requires if item in services)),
            auto_start=auto_start and self.auto_start,
            await_start=False,
        )


def services_supervisor(specs: list[ServiceSpec], auto_start: bool = True) -> SupervisorSpec:
    """The supervisor configuration that runs ``specs`` by the runtime's rules."""
    ids = {spec.id for spec in specs}
    return SupervisorSpec(
        [spec.child(ids, auto_start) for spec in specs],
        strategy="one_for_one",
        max_restarts=None,
        order="declared",
        stop_reason=STOP_REASON,
    )


class Services:
    """The services of an app, seen as the runtime sees them (from threads outside the pool).

    ``supervisor`` is the :class:`SupervisorRef` underneath: ``tree()``,
    ``stop(timeout)`` and ``kill()`` work on it as on any supervisor.
    """

    def __init__(self, supervisor: SupervisorRef, specs: list[ServiceSpec]) -> None:
        self.supervisor = supervisor
        self._specs = {spec.id: spec for spec in specs}

    @property
    def node(self) -> Node:
        return self.supervisor.node

    @property
    def pid(self) -> PID:
        return self.supervisor.pid

    def _view(self, child: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": child["id"],
            "process": self._specs[child["id"]].process,
            "state": child["status"],
            "pid": child["pid"],
            "attempts": child["attempts"],
            "restarts": child["restarts"],
            "last_error": child["last_error"],
        }

    def start(self, service_id: str) -> dict[str, Any]:
        """Start a service that does not run (after what it requires); its state."""
        self._require(service_id)
        try:
            self.supervisor.restart_child(service_id)
        except Error as err:
            if err.kind() != errors.ALREADY_EXISTS:
                raise
        return self.status(service_id)

    def stop_service(self, service_id: str, timeout: float | None = 60.0) -> dict[str, Any]:
        """Stop a service, after the running services that require it; its state."""
        self._require(service_id)
        self.supervisor.terminate_child(service_id, timeout, dependents=True)
        return self.status(service_id)

    def status(self, service_id: str | None = None) -> Any:
        """One service's state, or the list of all of them.

        Each is ``id``, ``process``, ``state`` (a
        :class:`~supervision.state.ChildState`), ``pid``, ``attempts``,
        ``restarts`` and ``last_error``.
        """
        children = self.supervisor.which_children()
        if service_id is None:
            return [self._view(child) for child in children]
        self._require(service_id)
        return next(self._view(child) for child in children if child["id"] == service_id)

    def tree(self) -> dict[str, Any]:
        """The services' supervisor as :meth:`SupervisorRef.tree` shows it."""
        return self.supervisor.tree()

    def stop(self, timeout: float | None = 60.0) -> None:
        """Stop every service (those that require others first), then their supervisor."""
        self.supervisor.stop(timeout)

    def _require(self, service_id: str) -> None:
        if service_id not in self._specs:
            raise Error(errors.NOT_FOUND, f"service {service_id} not found")


def start_services(
    node: Node,
    registry: Registry,
    *,
    host: str | None = None,
    clock: Callable[[], float] = time.monotonic,
    timers: Any = None,
    uniform: Callable[[float, float], float] = random.uniform,
    auto_start: bool = True,
) -> Services:
    """Start the supervisor of every ``process.service`` entry, and with it the auto_start ones."""
    specs = [ServiceSpec.from_entry(entry) for entry in registry.of_kind("process.service")]
    spec = services_supervisor(specs, auto_start)
    supervisor = start_supervisor(node, spec, host=host, clock=clock, timers=timers, uniform=uniform)
    return Services(supervisor, specs)
