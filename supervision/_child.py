"""``Child``: what a supervisor knows of one child (its spec, state, process and counters)."""

from __future__ import annotations

from typing import Any

from actors import PID, Error, errors
from supervision.spec import ChildSpec
from supervision.state import TRANSITIONS, ChildState

__all__ = ["Child"]


class Child:
    """One child of a supervisor; only the supervisor's own process touches it."""

    __slots__ = ("attempts", "last_error", "pid", "restart_timer", "restarts", "spec", "started_at", "state")

    def __init__(self, spec: ChildSpec) -> None:
        self.spec = spec
        self.state = ChildState.UNKNOWN
        self.pid: PID | None = None
        self.restarts = 0
        """Restarts the supervisor made (a start after an end it did not ask for)."""
        self.attempts = 0
        """Failed runs in a row (for the backoff delay and ``max_attempts``); 1 after a stable run."""
        self.started_at = 0.0
        self.last_error: Error | None = None
        self.restart_timer: int | None = None
        """The pending restart (a key of the supervisor's timers) while RESTARTING after a delay."""

    @property
    def id(self) -> str:
        return self.spec.id

    def move(self, state: ChildState) -> None:
        """Go to ``state``; a move :data:`TRANSITIONS` does not list is a supervisor bug."""
        if state is not self.state and state not in TRANSITIONS[self.state]:
            raise Error(errors.INTERNAL, f"child {self.spec.id}: no transition {self.state} → {state}")
        self.state = state

    def describe(self) -> dict[str, Any]:
        """The child as plain data (``which_children``, ``tree``)."""
        error = self.last_error
        return {
            "id": self.spec.id,
            "pid": self.pid,
            "status": self.state,
            "restarts": self.restarts,
            "attempts": self.attempts,
            "last_error": {"kind": error.kind(), "message": error.message()} if error is not None else None,
            "type": self.spec.child_type,
            "restart": self.spec.restart,
        }

    def __repr__(self) -> str:
        return f"<Child {self.spec.id} {self.state} {self.pid}>"
