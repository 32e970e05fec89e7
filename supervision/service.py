"""``process.service`` entries, run by a service manager that is itself a supervisor.

A service runs one ``process.lua`` entry on a host with its ``input`` as
arguments, monitored and linked by the :class:`ServiceManager` (a process
that traps links).  The rules are the runtime's (spec section 11):

* a normal exit, or an error with ``retryable() == false``, ends the service
  (state ``exited``): it is not restarted;
* any other error is a failure: ``attempts`` grows by one (back to 1 when the
  run lasted ``stable_threshold``), and the service is restarted after
  ``min(initial_delay * backoff_factor**(attempts-1), max_delay)`` ± ``jitter``
  while ``max_attempts`` is 0 or ``attempts < max_attempts``; past that it is
  marked ``failed``, its last error is logged, and the rest of the app runs on;
* services start after what they ``requires`` (and stop before it), and stop
  in reverse start order: a CANCEL with reason "service stopping" and the
  ``stop_timeout`` as deadline, then termination.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pykka
from pykka import ThreadingFuture

from actors import PID, Actor, Cancel, Error, Exit, LinkDown, Node, errors
from actors.entries import Entry, Registry
from actors.lua.stdlib import duration_seconds

__all__ = ["RestartPolicy", "ServiceManager", "ServiceSpec", "Services", "start_services"]

logger = logging.getLogger("supervision.services")

STOP_REASON = "service stopping"
_TERMINAL_START_ERRORS = (errors.INVALID, errors.NOT_FOUND, errors.PERMISSION_DENIED)


@dataclass(frozen=True)
class RestartPolicy:
    """``lifecycle.restart`` with the runtime's defaults (zero means "default")."""

    initial_delay: float = 1.0
    max_delay: float = 90.0
    backoff_factor: float = 2.0
    jitter: float = 0.1
    max_attempts: int = 0

    def delay(self, attempt: int, uniform: Callable[[float, float], float]) -> float:
        base = min(self.initial_delay * self.backoff_factor ** max(0, attempt - 1), self.max_delay)
        if self.jitter:
            base *= uniform(1 - self.jitter, 1 + self.jitter)
        return base


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


class _Service:
    __slots__ = (
        "attempts",
        "delays",
        "generation",
        "last_error",
        "pid",
        "restarts",
        "spec",
        "started_at",
        "state",
        "timer",
    )

    def __init__(self, spec: ServiceSpec) -> None:
        self.spec = spec
        self.state = "unknown"
        self.pid: PID | None = None
        self.attempts = 0
        self.restarts = 0
        self.started_at = 0.0
        self.last_error: Error | None = None
        self.timer: Any = None
        self.generation = 0
        self.delays: list[float] = []

    def describe(self) -> dict[str, Any]:
        return {
            "id": self.spec.id,
            "process": self.spec.process,
            "state": self.state,
            "pid": self.pid,
            "attempts": self.attempts,
            "restarts": self.restarts,
            "last_error": {"kind": self.last_error.kind(), "message": self.last_error.message()}
            if self.last_error is not None
            else None,
        }


@dataclass
class _Request:
    op: str
    args: tuple[Any, ...]
    future: ThreadingFuture[Any]


@dataclass
class _Retry:
    service: str
    generation: int


class ServiceManager(Actor):
    """Runs ``process.service`` entries: start order, restarts with backoff, stop order."""

    def __init__(
        self,
        specs: list[ServiceSpec],
        clock: Callable[[], float] = time.monotonic,
        timers: Any = None,
        uniform: Callable[[float, float], float] = random.uniform,
    ) -> None:
        super().__init__()
        self._services = {spec.id: _Service(spec) for spec in specs}
        self._clock = clock
        self._timers = timers
        self._uniform = uniform
        self._by_pid: dict[PID, _Service] = {}
        self._start_order: list[str] = []
        self._stopping: dict[PID, Callable[[], None]] = {}
        self._shutting_down = False

    def on_start(self) -> None:
        self.trap_links = True
        if self._timers is None:
            self._timers = self.node.timers

    # -- events ----------------------------------------------------------------------------------

    def on_event(self, event: Exit | LinkDown | Cancel) -> None:
        if isinstance(event, Exit):
            self._on_exit(event)
        elif isinstance(event, Cancel):
            self._stop_all(lambda: self.exit())

    def on_receive(self, message: Any) -> Any:
        if isinstance(message, _Retry):
            service = self._services.get(message.service)
            if service is not None and service.generation == message.generation and not self._shutting_down:
                service.timer = None
                self._run(service)
        elif isinstance(message, _Request):
            handler = getattr(self, f"_request_{message.op}")
            try:
                handler(message)
            except Error as err:
                message.future.set_exception(exc_info=(Error, err, None))
        return None

    def on_failure(self, exception_type: Any, exception_value: Any, traceback: Any) -> None:
        for service in self._services.values():
            if service.timer is not None:
                service.timer.cancel()

    # -- starting ----------------------------------------------------------------------------------

    def _start_with_requirements(self, service_id: str, path: tuple[str, ...] = ()) -> None:
        if service_id in path:
            raise Error(
                errors.INVALID, f"services require each other in a cycle: {' → '.join((*path, service_id))}"
            )
        service = self._services.get(service_id)
        if service is None:
            return  # a requirement that is not a service (a host, a worker): already started
        for requirement in service.spec.requires:
            self._start_with_requirements(requirement, (*path, service_id))
        if service.state not in ("running", "starting"):
            if service.timer is not None:  # started by hand while waiting to restart: once is enough
                service.timer.cancel()
                service.timer = None
            service.generation += 1  # a retry already on its way is stale
            service.attempts = 0
            service.delays.clear()
            self._run(service)

    def _run(self, service: _Service) -> None:
        service.state = "starting"
        spec = service.spec
        try:
            pid = self.node.spawn(spec.process, *spec.input, host=spec.host, link=True, monitor=True)
        except Error as err:
            service.last_error = err
            if err.kind() in _TERMINAL_START_ERRORS:
                service.state = "failed"
                logger.error("service %s cannot start: %s", spec.id, err)
                return
            self._failed(service, err, ran=0.0)
            return
        service.pid = pid
        service.state = "running"
        service.started_at = self._clock()
        self._by_pid[pid] = service
        if spec.id not in self._start_order:
            self._start_order.append(spec.id)

    def _on_exit(self, event: Exit) -> None:
        service = self._by_pid.pop(event.pid, None)
        done = self._stopping.pop(event.pid, None)
        if service is not None:
            service.pid = None
            service.last_error = event.error
        if done is not None:
            done()
            return
        if service is None or self._shutting_down:
            return
        ran = self._clock() - service.started_at
        error = event.error
        if error is None or error.retryable() is False:
            service.state = "exited"
            if error is not None:
                logger.warning("service %s ended with a non-retryable error: %s", service.spec.id, error)
            return
        self._failed(service, error, ran)

    def _failed(self, service: _Service, error: Error, ran: float) -> None:
        policy = service.spec.restart
        service.attempts = 1 if ran >= service.spec.stable_threshold else service.attempts + 1
        if policy.max_attempts and service.attempts >= policy.max_attempts:
            service.state = "failed"
            logger.error(
                "service %s failed %d times in a row and will not be restarted; last error: %s %s",
                service.spec.id,
                service.attempts,
                error.kind(),
                error.message(),
            )
            return
        delay = policy.delay(service.attempts, self._uniform)
        service.delays.append(delay)
        service.state = "restarting"
        service.restarts += 1
        service.generation += 1
        message = _Retry(service.spec.id, service.generation)
        ref = self.actor_ref
        service.timer = self._timers.call_later(delay, lambda: _tell(ref, message))
        logger.warning(
            "service %s failed (%s); restart %d in %.2f s", service.spec.id, error, service.attempts, delay
        )

    # -- stopping ------------------------------------------------------------------------------------

    def _stop(self, service: _Service, done: Callable[[], None]) -> None:
        if service.timer is not None:
            service.timer.cancel()
            service.timer = None
        pid = service.pid
        if pid is None or not self.node.is_alive(pid):
            if service.state in ("running", "starting", "restarting"):
                service.state = "stopped"
            done()
            return
        service.state = "stopping"

        def stopped() -> None:
            service.state = "stopped"
            done()

        self._stopping[pid] = stopped
        try:
            self.node.cancel(pid, deadline=service.spec.stop_timeout, reason=STOP_REASON)
        except Error:
            pass  # ended meanwhile; its EXIT is on the way

    def _stop_all(self, then: Callable[[], None]) -> None:
        self._shutting_down = True
        order = [self._services[service_id] for service_id in reversed(self._start_order)]
        order += [service for service in self._services.values() if service.spec.id not in self._start_order]

        def step(remaining: list[_Service]) -> None:
            if not remaining:
                then()
                return
            self._stop(remaining[0], lambda: step(remaining[1:]))

        step(order)

    # -- requests -------------------------------------------------------------------------------------

    def _request_start(self, request: _Request) -> None:
        service_id = request.args[0]
        if service_id not in self._services:
            raise Error(errors.NOT_FOUND, f"service {service_id} not found")
        self._start_with_requirements(service_id)
        request.future.set(self._services[service_id].describe())

    def _request_start_auto(self, request: _Request) -> None:
        for service in self._services.values():
            if service.spec.auto_start:
                self._start_with_requirements(service.spec.id)
        request.future.set([service.describe() for service in self._services.values()])

    def _request_stop(self, request: _Request) -> None:
        service = self._services.get(request.args[0])
        if service is None:
            raise Error(errors.NOT_FOUND, f"service {request.args[0]} not found")
        dependents = [
            other
            for other in self._services.values()
            if service.spec.id in other.spec.requires and other.pid is not None
        ]

        def stop_self() -> None:
            self._stop(service, lambda: request.future.set(service.describe()))

        def stop_dependents(remaining: list[_Service]) -> None:
            if not remaining:
                stop_self()
                return
            self._stop(remaining[0], lambda: stop_dependents(remaining[1:]))

        stop_dependents(dependents)

    def _request_status(self, request: _Request) -> None:
        if request.args:
            service = self._services.get(request.args[0])
            if service is None:
                raise Error(errors.NOT_FOUND, f"service {request.args[0]} not found")
            request.future.set({**service.describe(), "delays": list(service.delays)})
        else:
            request.future.set([service.describe() for service in self._services.values()])


def _tell(ref: Any, message: Any) -> None:
    try:
        ref.tell(message)
    except pykka.ActorDeadError:
        pass


class Services:
    """A handle to a running service manager (from threads outside the pool)."""

    def __init__(self, node: Node, pid: PID) -> None:
        self.node = node
        self.pid = pid

    def _request(self, op: str, *args: Any, timeout: float | None = 30.0) -> Any:
        future: ThreadingFuture[Any] = ThreadingFuture()
        try:
            self.node.actor_ref(self.pid).tell(_Request(op, args, future))
        except (Error, pykka.ActorDeadError):
            raise Error(errors.NOT_FOUND, "the service manager is not running") from None
        return future.get(timeout=timeout)

    def start(self, service_id: str) -> dict[str, Any]:
        """Start a service (after what it requires)."""
        return self._request("start", service_id)

    def start_auto(self) -> list[dict[str, Any]]:
        """Start every ``lifecycle.auto_start`` service, in dependency order."""
        return self._request("start_auto")

    def stop_service(self, service_id: str, timeout: float | None = 60.0) -> dict[str, Any]:
        """Stop a service (and the running services that require it, first)."""
        return self._request("stop", service_id, timeout=timeout)

    def status(self, service_id: str | None = None) -> Any:
        """One service's state (with the restart delays used), or all of them."""
        return self._request("status", *([service_id] if service_id else []))

    def stop(self, timeout: float | None = 60.0) -> None:
        """Stop every service in reverse start order, then the manager."""
        done = threading.Event()
        self.node.host(self.pid.host).watch(self.pid, lambda value, error: done.set())
        if not done.is_set():
            try:
                self.node.cancel(self.pid, reason="shutdown")
            except Error:
                pass
        if not done.wait(timeout):
            raise Error(errors.TIMEOUT, f"services still stopping after {timeout} s")


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
    """Start the manager for every ``process.service`` entry (and the auto_start ones)."""
    specs = [ServiceSpec.from_entry(entry) for entry in registry.of_kind("process.service")]
    pid = node.spawn(ServiceManager, specs, clock, timers, uniform, host=host)
    services = Services(node, pid)
    if auto_start:
        services.start_auto()
    return services
