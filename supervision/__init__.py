"""supervision: OTP supervisors in Python, and ``process.service`` entries.

``start_supervisor(node, SupervisorSpec(children=[ChildSpec(...), ...]))``
starts a supervision tree; ``supervision.install`` is the actorflow
extension that runs an app's ``process.service`` entries.
"""

from __future__ import annotations

from typing import Any

from actors.entries import Entry, KindSpec, Registry, check_lifecycle, register_kind
from supervision.ref import SupervisorRef, start_dynamic_supervisor, start_supervisor
from supervision.service import RestartPolicy, ServiceManager, Services, ServiceSpec, start_services
from supervision.spec import Backoff, ChildSpec, SupervisorSpec, supervisor_child
from supervision.state import ChildState
from supervision.supervisor import Supervisor
from supervision.tree import format_tree

__all__ = [
    "Backoff",
    "ChildSpec",
    "ChildState",
    "RestartPolicy",
    "ServiceManager",
    "ServiceSpec",
    "Services",
    "Supervisor",
    "SupervisorRef",
    "SupervisorSpec",
    "format_tree",
    "install",
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
    return messages


register_kind(
    KindSpec(
        "process.service",
        required=("process", "host"),
        references={"process": ("process.lua",), "host": ("process.host",)},
        check=_check_service,
        description="a supervised process.lua entry",
    )
)


class _RunningServices:
    def __init__(self, services: Services) -> None:
        self.services = services

    def stop(self) -> None:
        self.services.stop()


def install(app: Any) -> _RunningServices | None:
    """The actorflow extension: run the app's ``process.service`` entries."""
    if not app.registry.of_kind("process.service"):
        return None
    services = start_services(app.node, app.registry)
    app.services = services
    started = [status["id"] for status in services.status() if status["state"] == "running"]
    if started:
        app._progress(f"started services: {', '.join(started)}")
    return _RunningServices(services)
