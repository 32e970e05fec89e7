"""Output for people: aligned tables and the trees and lists the operator commands print."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = ["format_processes", "format_services", "format_summary", "format_table", "format_workflows"]


def format_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """Columns aligned on the widest cell; numbers right-aligned; empty cells as ``-``."""
    cells = [[_cell(value) for value in row] for row in rows]
    numeric = [
        all(isinstance(row[index], (int, float)) and not isinstance(row[index], bool) for row in rows)
        and bool(rows)
        for index in range(len(headers))
    ]
    widths = [max([len(header), *(len(row[index]) for row in cells)]) for index, header in enumerate(headers)]

    def line(values: Sequence[str]) -> str:
        parts = [
            value.rjust(widths[index]) if numeric[index] else value.ljust(widths[index])
            for index, value in enumerate(values)
        ]
        return "  ".join(parts).rstrip()

    return "\n".join([line(list(headers)), *(line(row) for row in cells)])


def _cell(value: Any) -> str:
    if value is None or value == "" or value == []:
        return "-"
    if isinstance(value, (list, tuple)):
        return " ".join(str(item) for item in value)
    return str(value)


def format_processes(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return "no processes"
    table = format_table(
        ["PID", "ENTRY", "HOST", "STATUS", "MAILBOX", "LINKS", "MONITORS", "NAMES"],
        [
            [row["pid"], row["entry"], row["host"], row["status"], row["mailbox"], row["links"], row["monitors"],
             row["names"]]
            for row in rows
        ],
    )  # fmt: skip
    nodes = sorted({row.get("node") or "" for row in rows} - {""})
    return f"node {', '.join(nodes)}\n{table}" if nodes else table


def format_services(tree: dict[str, Any]) -> str:
    """``actorflow tree``: the services under their manager, then each supervision tree."""
    from supervision import format_tree

    blocks = []
    services = tree.get("services") or []
    if services:
        lines = [f"services (manager {tree.get('manager')})"]
        width = max(len(service["id"]) for service in services)
        pid_width = max(len(service["pid"] or "-") for service in services)
        for index, service in enumerate(services):
            branch = "└── " if index == len(services) - 1 else "├── "
            label = (
                f"{service['id']:<{width}}  {service['pid'] or '-':<{pid_width}}  {service['state']}  "
                f"restarts {service['restarts']}"
            )
            error = service.get("last_error")
            if error and service["state"] != "running":
                label += f"  last error: {error['kind']}: {error['message']}"
            lines.append(branch + label)
        blocks.append("\n".join(lines))
    for supervisor in tree.get("supervisors") or []:
        blocks.append(format_tree(supervisor))
    return "\n\n".join(blocks) if blocks else "no services or supervisors"


def format_workflows(rows: list[dict[str, Any]], *, closed: bool) -> str:
    if not rows:
        return "no closed workflows" if closed else "no running workflows"
    headers = ["WORKFLOW ID", "TYPE", "STATUS", "STARTED"]
    if closed:
        headers.append("CLOSED")
    headers.append("TASK QUEUE")
    table = []
    for row in rows:
        cells = [row["workflow_id"], row["type"], row["status"], row["start_time"]]
        if closed:
            cells.append(row["close_time"])
        cells.append(row["task_queue"])
        table.append(cells)
    return format_table(headers, table)


def format_summary(summary: dict[str, Any]) -> str:
    """The start-up summary ``actorflow run`` prints."""
    rows: list[tuple[str, str]] = []
    for host in summary.get("hosts", []):
        rows.append(("host", f"{host['id']} ({host['workers']} workers)"))
    for client in summary.get("temporal", {}).get("clients", []):
        where = "embedded" if client["embedded"] else "external"
        rows.append(
            ("temporal", f"{client['id']}  {client['address']}  ({where}, namespace {client['namespace']})")
        )
        if client.get("ui"):
            rows.append(("web ui", client["ui"]))
    for worker in summary.get("temporal", {}).get("workers", []):
        polling = "" if worker["polling"] else ", not polling"
        rows.append(
            (
                "worker",
                f"{worker['id']}  task queue {worker['task_queue']}  ({worker['workflows']} workflows{polling})",
            )
        )
    for service in summary.get("services", []):
        rows.append(("service", f"{service['id']}  {service['state']}"))
    for server in summary.get("http", []):
        rows.append(("http", f"{server['id']}  {server['address']}  ({server['endpoints']} endpoints)"))
    for unit in summary.get("other", []):
        detail = f"  ({unit['detail']})" if unit.get("detail") else ""
        rows.append((unit["kind"], f"{unit['id']}  {unit['state']}{detail}"))
    for failed in summary.get("failed", []):
        rows.append(("not started", f"{failed['id']}  {failed['kind']}: {failed['message']}"))
    cluster = summary.get("cluster")
    if cluster:
        where = "embedded NATS" if cluster["embedded"] else "NATS"
        rows.append(("node", f"{cluster['node']} of cluster {cluster['namespace']}"))
        rows.append(("cluster", f"nodes {', '.join(cluster['members'])}  ({where} {cluster['address']})"))
    rows.append(("control", summary.get("control", "")))
    width = max(len(label) for label, _ in rows)
    return "\n".join(f"  {label:<{width}}  {text}" for label, text in rows)
