"""The supervision example's tree: a steady worker and a flaky one under one supervisor.

``start(app)`` is what the app's ``python.service`` entry runs when the app
starts; the supervisor it returns is stopped (children first) when the app stops.
"""

from __future__ import annotations

from typing import Any

from actors import Actor
from supervision import ChildSpec, SupervisorRef, SupervisorSpec, start_supervisor


class Steady(Actor):
    """Counts what it is sent; never fails."""

    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def on_start(self) -> None:
        self.register("steady")

    def on_receive(self, message: Any) -> Any:
        self.count += 1
        return self.count


class Flaky(Actor):
    """Crashes on a ``crash`` message; its supervisor starts a fresh one."""

    def on_start(self) -> None:
        self.register("flaky")  # the name follows the process: the new one takes it

    def on_receive(self, message: Any) -> Any:
        if getattr(message, "topic", None) == "crash":
            raise RuntimeError("crash requested")
        return None


def start(app: Any) -> SupervisorRef:
    spec = SupervisorSpec(
        [ChildSpec("steady", Steady), ChildSpec("flaky", Flaky)],
        strategy="one_for_one",
        max_restarts=5,
        max_seconds=10,
        name="workers",
    )
    return start_supervisor(app.node, spec)
