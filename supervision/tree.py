"""Printing a supervision tree (the same data is the Python structure ``tree()`` returns)."""

from __future__ import annotations

from typing import Any

__all__ = ["format_tree"]


def format_tree(tree: dict[str, Any]) -> str:
    """A supervision tree as text: ids, PIDs, status and restart counts, nested."""
    header = f"{tree['id']} ({tree['strategy']}) {tree['pid']}  {tree['status']}  restarts {tree['restarts']}"
    lines = [header]
    _children(tree.get("children") or [], "", lines)
    return "\n".join(lines)


def _children(children: list[dict[str, Any]], indent: str, lines: list[str]) -> None:
    width = max((len(str(child["id"])) for child in children), default=0)
    for index, child in enumerate(children):
        last = index == len(children) - 1
        branch = "└── " if last else "├── "
        pid = str(child["pid"]) if child["pid"] is not None else "-"
        nested = child.get("tree")
        label = f"{child['id']:<{width}}  {pid}  {child['status']}  restarts {child['restarts']}"
        if nested:
            label += f"  ({nested['strategy']})"
        lines.append(f"{indent}{branch}{label}")
        if nested:
            _children(nested.get("children") or [], indent + ("    " if last else "│   "), lines)
