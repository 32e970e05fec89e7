"""The Python side of a user's app: a cashier that a supervisor keeps running."""

from __future__ import annotations

from typing import Any

from actors import Actor
from supervision import ChildSpec, SupervisorSpec


class Cashier(Actor):
    """Answers "total" with the sum of its payload; a "jam" crashes it."""

    def on_receive(self, message: Any) -> Any:
        if message.topic == "jam":
            raise RuntimeError(f"till jammed: {message.payload}")
        if message.topic == "total":
            self.send(message.sender, "total", sum(message.payload))
        return None


def checkout() -> SupervisorSpec:
    """One cashier, restarted when it crashes; more than 2 crashes in 5 s and the checkout gives up."""
    return SupervisorSpec([ChildSpec("cashier", Cashier)], max_restarts=2, max_seconds=5)
