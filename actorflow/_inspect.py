"""What the operator commands read from a running app: processes, trees, workflows.

Every function returns plain JSON-able data (the control endpoint sends it
as is; the CLI makes tables of it).  They run on the control endpoint's
threads, never on a process host's workers: reading another process's
state is a snapshot taken without stopping it, so a count may be one off
for a process that is running at that moment.
"""

from __future__ import annotations

import asyncio
import math
from datetime import datetime
from typing import TYPE_CHECKING, Any

from actors import PID, Message, errors, select
from actors.coprocess import ProcessContext
from actors.seam import SpawnRequest

if TYPE_CHECKING:
    from actorflow.app import App

__all__ = ["processes", "send", "spawn", "tree", "workflows"]

MAX_LISTED_WORKFLOWS = 1000


def _pids(values: Any) -> list[str]:
    for _ in range(3):  # a set changed by its process while we copy it: copy again
        try:
            return sorted(str(pid) for pid in list(values or ()))
        except RuntimeError:
            continue
    return []


def processes(app: App) -> list[dict[str, Any]]:
    """Every process on the app's process hosts: PID, entry, host, status, mailbox, links, monitors,
    names (a cluster-wide one marked with its scope), and the node (its cluster name, "" alone)."""
    node = app.require_node()
    names: dict[PID, list[str]] = {}
    for name, pid, scope in node.names.scoped_items():
        names.setdefault(pid, []).append(name if scope == "local" else f"{name} ({scope})")
    rows = []
    for host in app.process_hosts():
        for pid in host.pids():
            proc = host.process(pid)
            if proc is None:
                continue
            router = getattr(proc.behaviour, "router", None)
            pending = router.pending_count if router is not None else 0
            queued, runnable = proc.mailbox_snapshot()
            if proc.result is not None:
                status = "exiting"
            elif runnable:
                status = "runnable"
            else:
                status = "waiting"
            rows.append(
                {
                    "pid": str(pid),
                    "entry": proc.entry_id,
                    "host": host.id,
                    "status": status,
                    "mailbox": queued + pending,
                    "links": _pids(proc.links),
                    "monitors": _pids(proc.monitoring),
                    "names": sorted(names.get(pid, ())),
                    "node": node.pid_node,
                }
            )
    return rows


def tree(app: App) -> dict[str, Any]:
    """Services (state, restarts) and every supervision tree running in the app."""
    from supervision import Supervisor, SupervisorRef

    node = app.require_node()
    services = []
    if app.services is not None:
        for state in app.services.status():
            services.append(
                {
                    "id": state["id"],
                    "process": state["process"],
                    "pid": str(state["pid"]) if state["pid"] is not None else None,
                    "state": str(state["state"]),
                    "restarts": state["restarts"],
                    "last_error": state["last_error"],
                }
            )
    trees = []
    for host in app.process_hosts():
        for pid in host.pids():
            proc = host.process(pid)
            actor = getattr(getattr(proc, "behaviour", None), "actor", None)
            if app.services is not None and pid == app.services.pid:
                continue  # shown as the services
            if isinstance(actor, Supervisor) and proc is not None and proc.alive:
                try:
                    trees.append(SupervisorRef(node, pid).tree())
                except Exception:
                    continue  # it ended while we asked
    nested = {str(child["pid"]) for item in trees for child in _walk(item) if child.get("tree")}
    roots = [_plain_tree(item) for item in trees if str(item["pid"]) not in nested]
    return {
        "services": services,
        "manager": str(app.services.pid) if app.services is not None else None,
        "supervisors": roots,
    }


def _walk(tree: dict[str, Any]) -> list[dict[str, Any]]:
    result = []
    for child in tree.get("children") or []:
        result.append(child)
        if child.get("tree"):
            result.extend(_walk(child["tree"]))
    return result


def _plain_tree(tree: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": str(tree["id"]),
        "strategy": tree["strategy"],
        "pid": str(tree["pid"]),
        "status": tree["status"],
        "restarts": tree["restarts"],
        "children": [
            {
                "id": str(child["id"]),
                "pid": str(child["pid"]) if child["pid"] is not None else None,
                "status": child["status"],
                "restarts": child["restarts"],
                **({"tree": _plain_tree(child["tree"])} if child.get("tree") else {}),
            }
            for child in tree.get("children") or []
        ],
    }


def workflows(app: App, *, closed: bool = False, limit: int = 100) -> list[dict[str, Any]]:
    """Workflows from Temporal (running ones, or closed ones with ``closed``), newest first."""
    runtime = app.temporal
    if runtime is None or not runtime.clients:
        raise errors.Error(errors.NOT_FOUND, "this app has no temporal.client")
    limit = max(1, min(int(limit), MAX_LISTED_WORKFLOWS))
    query = 'ExecutionStatus!="Running"' if closed else 'ExecutionStatus="Running"'

    async def listing(client_id: str, client: Any) -> list[dict[str, Any]]:
        rows = []
        async for execution in client.list_workflows(query, limit=limit):
            rows.append(
                {
                    "client": client_id,
                    "workflow_id": execution.id,
                    "run_id": execution.run_id,
                    "type": execution.workflow_type,
                    "task_queue": execution.task_queue,
                    "status": execution.status.name if execution.status is not None else "UNKNOWN",
                    "start_time": _time(execution.start_time),
                    "close_time": _time(execution.close_time),
                }
            )
            if len(rows) >= limit:
                break
        return rows

    async def all_clients() -> list[dict[str, Any]]:
        results = await asyncio.gather(*(listing(cid, client) for cid, client in runtime.clients.items()))
        return [row for rows in results for row in rows]

    try:
        rows = runtime.loop.run(all_clients(), timeout=30)
    except errors.Error:
        raise
    except Exception as exc:
        raise errors.Error(errors.UNAVAILABLE, f"cannot list workflows: {exc}") from None
    rows.sort(key=lambda row: row["start_time"] or "", reverse=True)
    return rows[:limit]


def _time(value: datetime | None) -> str | None:
    return value.isoformat(timespec="seconds") if value is not None else None


async def _send_and_collect(
    proc: ProcessContext, dest: str, topic: str, payloads: tuple[Any, ...], wait: float, count: int
) -> list[dict[str, Any]]:
    inbox = proc.inbox()
    proc.send(dest, topic, *payloads)
    replies: list[dict[str, Any]] = []
    if wait <= 0 or count == 0:
        return replies
    timeout = proc.after(wait)
    while count < 0 or len(replies) < count:
        index, value, ok = await select(inbox.case_receive(), timeout.case_receive())
        if index != 0 or not ok:
            break
        message: Message = value
        replies.append(
            {
                "topic": message.topic,
                "from": str(message.sender) if message.sender is not None else "",
                "payload": message.payload,
            }
        )
    return replies


def send(
    app: App, dest: str, topic: str, payloads: tuple[Any, ...], *, wait: float = 0.0, replies: int = -1
) -> dict[str, Any]:
    """Send from a short-lived process; with ``wait``, the replies it got within that many seconds.

    The sender is a process, so a receiver can answer it (``msg:from()``):
    ``replies`` stops waiting after that many answers (-1: until ``wait`` ends).
    """
    node = app.require_node()
    if not math.isfinite(wait) or wait < 0:
        raise errors.Error(errors.INVALID, f"wait must be a non-negative number of seconds, got {wait}")
    pid = node.resolve(dest)
    request = SpawnRequest(_send_and_collect, (str(pid), topic, payloads, float(wait), int(replies)))
    got = node.run_request(request, node.default_host_id, timeout=wait + 10.0)
    return {"to": str(pid), "topic": topic, "replies": got}


def spawn(app: App, entry_id: str, host: str | None, args: tuple[Any, ...]) -> dict[str, Any]:
    """Start ``entry_id`` (on ``host``, or where it runs by default); its PID."""
    node = app.require_node()
    target_host = host or app.host_for(entry_id)
    pid = node.spawn_request(SpawnRequest(entry_id, tuple(args)), target_host)
    return {"pid": str(pid), "entry": entry_id, "host": target_host}
