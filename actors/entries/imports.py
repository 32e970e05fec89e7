"""``imports:``: which library entries a Lua entry imports, and what is wrong with them.

An entry names the libraries it uses, each under an alias (Wippy's
``imports: {helpers: app.lib:helpers}``), and ``require("helpers")`` runs
the ``library.lua`` entry ``app.lib:helpers`` in the requiring process.  A
library has its own ``modules:`` and ``imports:``; the imports of all
libraries must not form a cycle.  This module reads and checks them
(:func:`import_problems`: shape, targets, kinds, cycles) without the Lua
layer; :mod:`actors.lua.libraries` hands them to Lua.
"""

from __future__ import annotations

import re

from actors.entries.model import Entry, Registry

__all__ = [
    "IMPORTS_MARKER",
    "LIBRARY_KIND",
    "LIBRARY_PREFIX",
    "RESERVED_PREFIX",
    "import_problems",
    "imports_of",
]

LIBRARY_KIND = "library.lua"
RESERVED_PREFIX = "__"
"""Module names starting so are the loader's own (markers and libraries)."""
IMPORTS_MARKER = "__imp_"
"""The prefix of the module that maps an entry's aliases to library modules."""
LIBRARY_PREFIX = "__lib_"
"""The prefix of the module that holds one library."""

_ALIAS = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*")


def imports_of(entry: Entry) -> dict[str, str]:
    """The entry's imports as ``alias → entry ID`` (references resolved; ``{}`` when malformed)."""
    raw = entry.data.get("imports")
    if not isinstance(raw, dict):
        return {}
    return {alias: entry.ref(target) for alias, target in raw.items() if isinstance(target, str) and target}


def import_problems(entries: list[Entry], registry: Registry) -> list[tuple[Entry, str]]:
    """What is wrong with the ``imports`` of ``entries``: shape, targets, kinds, cycles."""
    problems: list[tuple[Entry, str]] = []
    for entry in entries:
        raw = entry.data.get("imports")
        if raw is None:
            continue
        if not isinstance(raw, dict):
            problems.append((entry, "'imports' must map aliases to library entry IDs (alias: ns:name)"))
            continue
        for alias, target in raw.items():
            if not isinstance(alias, str) or not _ALIAS.fullmatch(alias):
                problems.append((entry, f"imports: alias {alias!r} must be a name (letters, digits, _ . -)"))
                continue
            if not isinstance(target, str) or not target:
                problems.append((entry, f"imports.{alias} must be a library entry ID (ns:name)"))
                continue
            target_id = entry.ref(target)
            found = registry.get(target_id)
            if found is None:
                problems.append((entry, f"imports.{alias} references unknown entry {target_id!r}"))
            elif found.kind != LIBRARY_KIND:
                problems.append(
                    (
                        entry,
                        f"imports.{alias} references {target_id!r} of kind {found.kind!r}, expected library.lua",
                    )
                )
    problems.extend(_cycles(entries, registry))
    return problems


def _cycles(entries: list[Entry], registry: Registry) -> list[tuple[Entry, str]]:
    """Each cycle of library imports, reported once, on the library that closes it."""
    libraries = [entry for entry in entries if entry.kind == LIBRARY_KIND]
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    found: list[tuple[Entry, str]] = []
    reported: set[frozenset[str]] = set()

    def visit(entry: Entry, path: list[str]) -> None:
        state[entry.id] = 1
        path.append(entry.id)
        for target_id in imports_of(entry).values():
            target = registry.get(target_id)
            if target is None or target.kind != LIBRARY_KIND:
                continue
            if state.get(target_id) == 1:
                cycle = [*path[path.index(target_id) :], target_id]
                key = frozenset(cycle)
                if key not in reported:
                    reported.add(key)
                    found.append((entry, f"library imports form a cycle: {' → '.join(cycle)}"))
            elif target_id not in state:
                visit(target, path)
        path.pop()
        state[entry.id] = 2

    for library in libraries:
        if library.id not in state:
            visit(library, [])
    return found
