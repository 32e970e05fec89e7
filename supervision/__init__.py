"""supervision: OTP supervisors in Python, and ``process.service`` entries.

``start_supervisor(node, SupervisorSpec(children=[ChildSpec(...), ...]))``
starts a supervision tree; ``supervision.install`` is the actorflow
extension that runs an app's ``process.service`` entries, which are children
of one supervisor configured by the runtime's rules (:mod:`supervision.service`).
"""

from __future__ import annotations

from typing import Any

from actors import errors
from actors.entries import Entry, KindSpec, Registry, check_lifecycle, register_kind
from supervision.ref import SupervisorRef, start_dynamic_supervisor, start_supervisor
from supervision.service import RestartPolicy, Services, ServiceSpec, services_supervisor, start_services
from supervision.spec import Backoff, ChildSpec, SupervisorSpec, supervisor_child
from supervision.state import ChildState
from supervision.supervisor import Supervisor
from supervision.tree import format_tree

__all__ = [
    "Backoff",
    "ChildSpec",
    "ChildState",
    "RestartPolicy",
    "ServiceSpec",
    "Services",
    "Supervisor",
    "SupervisorRef",
    "SupervisorSpec",
    "format_tree",
    "install",
    "services_supervisor",
    "start_dynamic_supervisor",
    "start_services",
    "start_supervisor",
    "supervisor_child",
]


def _check_service(entry: Entry, registry: Registry) -> list[str]:
    messages = check_lifecycle(entry, registry)
    if entry.get("host") == "node:control":
        messages.append("host node:control is reserved for the runtime")
    raw_input = entry.get("input")
    if raw_input is not None and not isinstance(raw_input, list):
        messages.append("input must be a list (each element is one argument)")
    if "args" in entry.data:
        messages.append("there is no 'args' key: use input (a list of arguments)")
    if messages:
        return messages
    try:
        ServiceSpec.from_entry(entry)  # the values a service runs with (backoff factor, jitter, …)
    except errors.Error as err:
        messages.append(f"lifecycle.restart: {err.message()}")
    cycle = _requirement_cycle(entry, registry)
    if cycle:
        messages.append(f"services require each other in a cycle: {' → '.join(cycle)}")
    return messages


def _requirement_cycle(entry: Entry, registry: Registry) -> list[str]:
    """A cycle of ``requires``/``depends_on`` between services that starts at ``entry``, or ``[]``."""

    def needs(service: Entry) -> list[str]:
        lifecycle = service.get("lifecycle") or {}
        items = [*(lifecycle.get("requires") or []), *(lifecycle.get("depends_on") or [])]
        return [service.ref(item) for item in items if isinstance(item, str)]

    stack: list[tuple[str, list[str]]] = [(entry.id, [])]
    seen: set[str] = set()
    while stack:
        current, path = stack.pop()
        if current == entry.id and path:
            return [*path, current]
        if current in seen:
            continue
        seen.add(current)
        found = registry.get(current)
        if found is None or found.kind != "process.service":
            continue
        stack.extend((item, [*path, current]) for item in needs(found))
    return []


register_kind(
    KindSpec(
        "process.service",
        required=("process", "host"),
        references={"process": ("process.lua",), "host": ("process.host",)},
        check=_check_service,
        description="a supervised process.lua entry",
    )
)


def install(app: Any) -> Services | None:
    """The actorflow extension: run the app's ``process.service`` entries (``stop()`` ends them)."""
    if not app.registry.of_kind("process.service"):
        return None
    services = start_services(app.node, app.registry)
    app.services = services
    started = [status["id"] for status in services.status() if status["state"] == "running"]
    if started:
        app._progress(f"started services: {', '.join(started)}")
    return services
