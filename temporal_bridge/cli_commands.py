"""``actorflow update`` and ``actorflow query``: a workflow of a running app, from the shell.

The commands go through the app's control socket (``actorflow run``): the
CLI sends ``{"op": "update" | "query", ...}`` and the running app answers
with :func:`control_update` / :func:`control_query`, which call
:func:`temporal_bridge.update` / :func:`temporal_bridge.query` on its node::

    actorflow update APP_DIR PID|WORKFLOW_ID increment '{"amount": 2}'
    actorflow query APP_DIR PID|WORKFLOW_ID state

The workflow is named by its PID, or by its workflow ID when the app has a
single ``temporal.client`` (``--client`` picks one otherwise), as
``actorflow workflows`` lists them.
"""

from __future__ import annotations

import math
from typing import Any

from actors import errors
from actors.pid import PID, is_pid_text
from temporal_bridge.updates import query, update

__all__ = ["control_query", "control_update", "workflow_pid"]

_DEFAULT_WAIT = 30.0
_MAX_WAIT = 3600.0


def control_update(app: Any, message: dict[str, Any]) -> dict[str, Any]:
    """The control operation ``update``: ``{"to", "name", "args", "client", "wait"}`` → its value."""
    pid = workflow_pid(app, _text(message, "to"), message.get("client"))
    args = _args(message)
    value = update(app.require_node(), pid, _text(message, "name"), *args, timeout=_wait(message))
    return {"to": str(pid), "value": value}


def control_query(app: Any, message: dict[str, Any]) -> dict[str, Any]:
    """The control operation ``query``: ``{"to", "name", "args", "client", "wait"}`` → its answer."""
    pid = workflow_pid(app, _text(message, "to"), message.get("client"))
    args = _args(message)
    value = query(app.require_node(), pid, _text(message, "name"), *args, timeout=_wait(message))
    return {"to": str(pid), "value": value}


def workflow_pid(app: Any, dest: str, client: Any = None) -> PID:
    """``dest`` as a workflow PID: a PID's text, or a workflow ID of the app's (only) client."""
    if is_pid_text(dest):
        return PID.parse(dest)
    clients = [entry.id for entry in app.registry.of_kind("temporal.client")]
    if client is not None:
        if client not in clients:
            raise errors.Error(errors.NOT_FOUND, f"no temporal.client {client!r} in this app")
        clients = [client]
    if not clients:
        raise errors.Error(errors.NOT_FOUND, "this app has no temporal.client")
    if len(clients) > 1:
        raise errors.Error(
            errors.INVALID,
            f"{dest!r} is a workflow ID and the app has {len(clients)} clients: give its PID or --client",
        )
    return PID("", dest, clients[0])  # the peer needs only the client and the workflow ID


def _text(message: dict[str, Any], key: str) -> str:
    value = message.get(key)
    if not isinstance(value, str) or not value:
        raise errors.Error(errors.INVALID, f"{key} must be a non-empty string")
    return value


def _args(message: dict[str, Any]) -> list[Any]:
    args = message.get("args") or []
    if not isinstance(args, list):
        raise errors.Error(errors.INVALID, "args must be a list")
    return args


def _wait(message: dict[str, Any]) -> float:
    wait = message.get("wait", _DEFAULT_WAIT)
    if isinstance(wait, bool) or not isinstance(wait, (int, float)) or not math.isfinite(wait) or wait <= 0:
        raise errors.Error(errors.INVALID, "wait must be a positive number of seconds")
    return min(float(wait), _MAX_WAIT)
