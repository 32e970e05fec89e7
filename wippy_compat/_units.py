"""The units Wippy's app kinds start as: the app starts them in dependency order, stops them in reverse.

Each resource entry (a ``terminal.host``, an ``env.storage.*``, a
``db.sql.sqlite``, a ``queue.driver.memory``, ``queue.queue`` and
``queue.consumer``) is one :class:`actorflow._lifecycle.Unit`: it provides
its entry ID and requires what its ``lifecycle.requires`` /
``lifecycle.depends_on`` name plus the entries its own fields reference (a
queue its driver, a consumer its queue, its function and the host the
function runs on, a database the host its migrations run on), so
``actorflow run``'s start order, its ``lifecycle.startup`` and
``start_timeout`` rules, its start-up summary and its bounded, one level
in parallel, shutdown cover them as they cover hosts and services.

Every resource unit also requires :class:`ContextUnit`, which makes the
app's :class:`~wippy_compat._context.AppResources` reachable from the
modules' handlers, and at stop, after every resource unit, closes what was
made on first use (the event bus, metrics, registry versions).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from actorflow.units import Lifecycle, lifecycle_of
from actors.entries import Entry
from wippy_compat._context import AppResources, attach, detach

if TYPE_CHECKING:
    from actorflow.app import App

__all__ = ["CONTEXT", "ContextUnit", "EntryUnit"]

CONTEXT = "wippy:context"
"""What every Wippy resource unit requires: the app's resources made reachable to the modules."""


class ContextUnit:
    """Attaches the app's :class:`AppResources` to its node; closes them last (no progress line)."""

    def __init__(self, app: App) -> None:
        self.app = app
        self.id = CONTEXT
        self.provides = frozenset({CONTEXT})
        self.requires: frozenset[str] = frozenset()
        self.lifecycle = Lifecycle()
        self.resources = AppResources(app)

    def start(self) -> None:
        attach(self.resources)

    def stop(self, timeout: float) -> None:
        try:
            self.resources.close()
        finally:
            detach(self.resources)


class EntryUnit:
    """The unit of one resource entry: provides its ID, requires its lifecycle's and ``needs``."""

    start_timeout = 10.0
    """The ``start_timeout`` unless the entry's ``lifecycle`` says otherwise."""
    label = "resource"
    """What the summary and the progress lines call it."""

    def __init__(self, app: App, context: ContextUnit, entry: Entry, needs: Iterable[str] = ()) -> None:
        self.app = app
        self.resources = context.resources
        self.entry = entry
        self.id = entry.id
        self.provides = frozenset({entry.id})
        self.lifecycle = lifecycle_of(entry, start_timeout=self.start_timeout)
        self.requires = frozenset({*self.lifecycle.requires, *needs, CONTEXT})

    def start(self) -> None:
        raise NotImplementedError

    def stop(self, timeout: float) -> None:
        raise NotImplementedError

    def detail(self) -> str:
        """A few words for the start-up summary."""
        return ""

    def summary_row(self) -> dict[str, Any]:
        """The unit's line of ``actorflow run``'s start-up summary."""
        return {"kind": self.label, "id": self.id, "state": "running", "detail": self.detail()}
