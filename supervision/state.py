"""``ChildState``: where a supervised child is in its life, and the moves between states.

Every child of a supervisor (a ``process.service`` included) is in exactly one
state.  The supervisor moves it only along :data:`TRANSITIONS`; any other move
is a bug in the supervisor and fails loudly instead of showing a wrong state.

::

    UNKNOWN ─start─► STARTING ─first step over─► RUNNING ─asked to stop─► STOPPING ─EXIT─► STOPPED
                       │ (a child that is not waited for is RUNNING at once)  │
                       │                                                      ├─ended, restart due─► RESTARTING
                       │                                                      ├─ended, no restart──► EXITED
                       └─ends like RUNNING does                               └─given up──────────► FAILED

    RESTARTING ─backoff over─► STARTING / RUNNING      RESTARTING ─terminate_child─► STOPPED
    STOPPED / EXITED / FAILED ─restart_child (a service's start)─► STARTING / RUNNING

A state is a ``str`` (``ChildState.RUNNING == "running"``), so the tree and
the service status print and serialise as plain text.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["TRANSITIONS", "ChildState"]


class ChildState(StrEnum):
    """The state of one supervised child (and, in ``tree()``, of a supervisor itself)."""

    UNKNOWN = "unknown"
    """Declared but never started: a ``process.service`` without ``auto_start``."""
    STARTING = "starting"
    """Spawned; the supervisor waits for its first step (``on_start``) to end before going on."""
    RUNNING = "running"
    """Alive. A child the supervisor does not wait for is running as soon as it is spawned."""
    RESTARTING = "restarting"
    """Ended and due to be restarted: waiting for its backoff delay, or for its group to stop."""
    STOPPING = "stopping"
    """Asked to stop (a CANCEL, or termination); its EXIT has not arrived yet."""
    STOPPED = "stopped"
    """Stopped by the supervisor (``terminate_child``, a shutdown): started again only on request."""
    EXITED = "exited"
    """Ended on its own and not to be restarted: a normal end of a ``transient`` or ``retryable``
    child, or a ``retryable`` child's error that says it may not be retried."""
    FAILED = "failed"
    """Given up: ``max_attempts`` failed runs in a row, or a start that cannot succeed
    (an error of kind INVALID, NOT_FOUND or PERMISSION_DENIED). Its supervisor runs on."""


_ENDS = frozenset({ChildState.RESTARTING, ChildState.EXITED, ChildState.FAILED, ChildState.STOPPED})
"""Where a child that ends on its own goes (STOPPED: it ended while its supervisor shuts down)."""
_STARTS = frozenset({ChildState.STARTING, ChildState.RUNNING, ChildState.RESTARTING, ChildState.FAILED})
"""Where a start leads: started, or failed to start (retried later, or given up)."""

TRANSITIONS: dict[ChildState, frozenset[ChildState]] = {
    ChildState.UNKNOWN: _STARTS,
    ChildState.STARTING: frozenset({ChildState.RUNNING, ChildState.STOPPING}) | _ENDS,
    ChildState.RUNNING: frozenset({ChildState.STOPPING}) | _ENDS,
    ChildState.RESTARTING: _STARTS | frozenset({ChildState.STOPPED}),
    ChildState.STOPPING: frozenset({ChildState.STOPPED}),
    ChildState.STOPPED: _STARTS,
    ChildState.EXITED: _STARTS,
    ChildState.FAILED: _STARTS,
}
"""The moves the supervisor makes: ``TRANSITIONS[now]`` is every state a child may go to next."""
