"""The units of an app that other packages run: hosts, Temporal, services.

Each unit wraps one public API (``ProcessHost``, ``TemporalRuntime``,
``supervision.Services``) in the start/stop shape of
:class:`actorflow._lifecycle.Unit`; the HTTP and Python-module units live
with their kinds.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from actorflow._lifecycle import Lifecycle, lifecycle_of
from actors import ProcessHost, errors
from actors.entries import Entry
from actors.limits import limits_from_config

if TYPE_CHECKING:
    from actorflow.app import App

__all__ = ["HostUnit", "ServiceManagerUnit", "ServiceUnit", "TemporalUnit", "service_units", "temporal_units"]

SERVICE_MANAGER = "supervision:services"
"""What every ``process.service`` unit requires: the manager that runs it."""


class HostUnit:
    """A ``process.host`` (or the default host of an app that declares none)."""

    def __init__(self, app: App, host_id: str, entry: Entry | None = None) -> None:
        self.app = app
        self.id = host_id
        self.entry = entry
        self.provides = frozenset({host_id})
        self.lifecycle = lifecycle_of(entry) if entry is not None else Lifecycle()
        self.requires = frozenset(self.lifecycle.requires)
        self.host: ProcessHost | None = None

    def start(self) -> None:
        node = self.app.require_node()
        config = (self.entry.get("host") or {}) if self.entry is not None else {}
        self.host = ProcessHost(
            node,
            self.id,
            workers=config.get("workers"),
            lua_threads=config.get("lua_threads") or 1,
            limits=limits_from_config(config),
        )
        node.add_host(self.host)
        default = " (default)" if self.id == node.default_host_id else ""
        self.app.progress(f"started host {self.id}{default} ({self.host.workers} workers)")

    def stop(self, timeout: float) -> None:
        if self.host is not None:
            self.host.stop(timeout)

    def describe(self) -> dict[str, Any]:
        return {"id": self.id, "workers": self.host.workers if self.host is not None else None}


class TemporalUnit:
    """Every ``temporal.client`` and ``temporal.worker`` of the app, started together."""

    start_on_caller_thread = True
    """The embedded server must die with the app: started from the main thread (see Runner)."""

    def __init__(self, app: App) -> None:
        self.app = app
        registry = app.registry
        members = registry.of_kind("temporal.client", "temporal.worker")
        self.id = ", ".join(entry.id for entry in registry.of_kind("temporal.client"))
        self.provides = frozenset(entry.id for entry in members)
        cycles = [lifecycle_of(entry, start_timeout=60.0) for entry in members]
        requires = {item for cycle in cycles for item in cycle.requires}
        self.requires = frozenset(requires | {app.default_host_id})
        self.lifecycle = Lifecycle(
            startup="optional" if all(cycle.startup == "optional" for cycle in cycles) else "required",
            start_timeout=max(cycle.start_timeout for cycle in cycles),
            stop_timeout=max(cycle.stop_timeout for cycle in cycles),
        )
        self.runtime: Any = None

    def start(self) -> None:
        from temporal_bridge import TemporalRuntime

        app = self.app
        runtime = TemporalRuntime(
            app.registry, app.require_node(), app.state_dir, app.progress, ui=app.temporal_ui
        )
        self.runtime = runtime
        runtime.start()
        app.temporal = runtime

    def stop(self, timeout: float) -> None:
        if self.runtime is not None:
            self.runtime.stop()

    def describe(self) -> dict[str, Any]:
        runtime = self.runtime
        if runtime is None:
            return {}
        clients = []
        for client_id, client in runtime.clients.items():
            server = runtime.servers.get(client_id)
            clients.append(
                {
                    "id": client_id,
                    "address": client.service_client.config.target_host,
                    "namespace": client.namespace,
                    "embedded": server is not None,
                    "ui": getattr(server, "ui_address", None),
                }
            )
        workers = [
            {
                "id": config.worker_id,
                "task_queue": config.task_queue,
                "workflows": len(config.workflows),
                "polling": config.worker_id in runtime.workers,
            }
            for config in runtime.configs
        ]
        return {"clients": clients, "workers": workers}


def temporal_units(app: App) -> list[Any]:
    """The Temporal unit, when the app declares a client."""
    return [TemporalUnit(app)] if app.registry.of_kind("temporal.client") else []


class ServiceManagerUnit:
    """The supervisor that runs the app's ``process.service`` entries."""

    def __init__(self, app: App) -> None:
        self.app = app
        self.id = SERVICE_MANAGER
        self.provides = frozenset({SERVICE_MANAGER})
        self.requires = frozenset({app.default_host_id})
        self.lifecycle = Lifecycle()
        self.services: Any = None

    def start(self) -> None:
        from supervision import start_services

        self.services = start_services(self.app.require_node(), self.app.registry, auto_start=False)
        self.app.services = self.services

    def stop(self, timeout: float) -> None:
        if self.services is not None:
            self.services.stop(timeout)


class ServiceUnit:
    """One ``process.service`` with ``lifecycle.auto_start``: started and stopped through the manager."""

    def __init__(self, app: App, entry: Entry, manager: ServiceManagerUnit) -> None:
        self.app = app
        self.entry = entry
        self.manager = manager
        self.id = entry.id
        self.provides = frozenset({entry.id})
        self.lifecycle = lifecycle_of(entry)
        host = entry.ref(str(entry.get("host")))
        self.requires = frozenset({*self.lifecycle.requires, host, SERVICE_MANAGER})

    def start(self) -> None:
        state = self.manager.services.start(self.id)
        if state["state"] == "failed":
            last = state.get("last_error") or {}
            raise errors.Error(
                last.get("kind") or errors.INTERNAL, last.get("message") or "the service failed"
            )
        self.app.progress(f"started service {self.id} ({state['state']})")

    def stop(self, timeout: float) -> None:
        # The manager cancels it with the service's own stop_timeout as deadline.
        self.manager.services.stop_service(self.id, timeout=timeout + 5.0)


def service_units(app: App) -> list[Any]:
    """The service manager and one unit per ``auto_start`` service."""
    entries = app.registry.of_kind("process.service")
    if not entries:
        return []
    manager = ServiceManagerUnit(app)
    units: list[Any] = [manager]
    for entry in entries:
        if lifecycle_of(entry).auto_start:
            units.append(ServiceUnit(app, entry, manager))
    return units
