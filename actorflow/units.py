"""The units of an app, for the packages that add to what an app starts.

An app is a set of units started in dependency order (:mod:`actorflow.app`);
an extension (``App(extensions=…)``) returns more of them. These are the
names an extension builds its units with; the machinery behind them is
private (``_lifecycle``: levels, the runner; ``_units``: the app's own units).
"""

from __future__ import annotations

from actorflow._lifecycle import Lifecycle, Unit, lifecycle_of
from actorflow._units import HostUnit

__all__ = ["HostUnit", "Lifecycle", "Unit", "lifecycle_of"]
