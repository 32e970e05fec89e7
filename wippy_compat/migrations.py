"""Migrations as Wippy's ``wippy/migration`` module runs them (``en/framework/migration.md``).

A migration is a ``function.lua`` entry with ``meta.type: migration`` and
``meta.target_db``, whose source returns ``require("migration").define(…)``
(``imports: {migration: wippy.migration:migration}``: the library ships
here, :func:`actors.entries.loader.register_library`).  When a database
starts (its unit, :class:`wippy_compat.sql.DatabaseUnit`), :func:`run_pending`
runs its migrations in order of ``meta.timestamp``, then entry ID, each in a
transaction that also records it in ``_migrations``; one that was applied
before is skipped.  A failing migration stops the start with its error
(nothing of it is kept).
"""

from __future__ import annotations

import logging
from importlib import resources
from typing import Any

from actors import errors
from actors.entries import Entry, KindSpec, Registry, register_kind
from actors.entries.loader import register_library
from wippy_compat._context import AppResources

__all__ = ["LIBRARY_ID", "migrations_of", "run_pending"]

LIBRARY_ID = "wippy.migration:migration"
MIGRATION_TIMEOUT = 120.0

logger = logging.getLogger("wippy_compat.migrations")

register_library(
    LIBRARY_ID,
    (resources.files(__package__) / "lua" / "migration.lua").read_text(encoding="utf-8"),
    modules=("sql",),
    chunkname="wippy.migration/migration.lua",
)


def migrations_of(registry: Any, database_id: str) -> list[Any]:
    """The migration entries of ``database_id``, in the order they run."""
    found = [
        entry
        for entry in registry.of_kind("function.lua")
        if entry.meta.get("type") == "migration"
        and entry.ref(str(entry.meta.get("target_db") or "")) == database_id
    ]
    return sorted(found, key=lambda entry: (str(entry.meta.get("timestamp") or ""), entry.id))


def run_pending(resources: AppResources, database_id: str) -> list[dict[str, Any]]:
    """Apply the pending migrations of ``database_id`` (open already); their results.
    Raises on the first failure."""
    app = resources.app
    results = []
    for entry in migrations_of(resources.registry, database_id):
        options = {"database_id": database_id, "direction": "up", "id": entry.id}
        result = app.exec(entry.id, options, timeout=MIGRATION_TIMEOUT)
        if not isinstance(result, dict) or result.get("status") not in ("complete",):
            reason = result.get("error") if isinstance(result, dict) else f"returned {result!r}"
            raise errors.Error(errors.INVALID, f"migration {entry.id} on {database_id} failed: {reason}")
        if result.get("applied"):
            logger.info("migration %s applied to %s", entry.id, database_id)
        results.append({"id": entry.id, **result})
    return results


# -- ns.dependency: the Wippy hub modules actorflow ships ----------------------------------------------

BUNDLED_COMPONENTS = frozenset({"wippy/migration"})
"""The hub modules whose entries actorflow provides itself (so their ``ns.dependency`` is accepted)."""


def _check_dependency(entry: Entry, registry: Registry) -> list[str]:
    component = entry.get("component")
    if not isinstance(component, str) or not component:
        return ["missing required field 'component' (org/module)"]
    if component not in BUNDLED_COMPONENTS:
        return [
            f"component {component!r} is a Wippy hub module actorflow does not have "
            f"(hub modules are not supported; bundled: {', '.join(sorted(BUNDLED_COMPONENTS))})"
        ]
    return []


register_kind(
    KindSpec("ns.dependency", check=_check_dependency, description="a hub module the app depends on")
)
