"""Which child needs which: the start and stop order of a supervisor's children.

With ``order="sequential"`` (OTP) each child needs every child listed before
it; with ``order="declared"`` it needs what its ``requires`` names.  Children
start after what they need and stop before it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from supervision._child import Child

__all__ = ["dependents", "requirements", "start_order"]


def start_order(children: Sequence[Child], order: str) -> list[Child]:
    """``children`` with every child after the ones of them it needs (list order otherwise)."""
    if order == "sequential":
        return list(children)
    chosen = {child.id: child for child in children}
    placed: set[str] = set()
    result: list[Child] = []
    pending = list(children)
    while pending:
        rest = []
        for child in pending:
            if all(need in placed or need not in chosen for need in child.spec.requires):
                placed.add(child.id)
                result.append(child)
            else:
                rest.append(child)
        if len(rest) == len(pending):  # pragma: no cover - SupervisorSpec refuses cycles
            return result + rest
        pending = rest
    return result


def requirements(child: Child, children: Sequence[Child], order: str) -> list[Child]:
    """Every child that ``child`` needs, directly or through others, in start order."""
    if order == "sequential":
        return list(children[: children.index(child)])
    by_id = {other.id: other for other in children}
    needed = _closure([child.id], lambda item: by_id[item].spec.requires if item in by_id else ())
    return [other for other in start_order(children, order) if other.id in needed and other is not child]


def dependents(child: Child, children: Sequence[Child], order: str) -> list[Child]:
    """Every child that needs ``child``, directly or through others, in list order."""
    if order == "sequential":
        return list(children[children.index(child) + 1 :])
    users: dict[str, list[str]] = {}
    for other in children:
        for need in other.spec.requires:
            users.setdefault(need, []).append(other.id)
    found = _closure([child.id], lambda item: users.get(item, ()))
    return [other for other in children if other.id in found and other is not child]


def _closure(start: list[str], edges: Callable[[str], Iterable[str]]) -> set[str]:
    """Every id reachable from ``start`` through ``edges`` (``start`` included)."""
    seen: set[str] = set()
    stack = list(start)
    while stack:
        item = stack.pop()
        if item not in seen:
            seen.add(item)
            stack.extend(edges(item))
    return seen
