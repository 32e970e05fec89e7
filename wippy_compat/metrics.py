"""The ``metrics`` module (``en/lua/system/metrics.md``): counters, gauges, histograms.

The collector is the app's (:class:`Metrics`, one per running app); Python
reads it with :meth:`Metrics.snapshot`.  A series is a name and its labels;
an app holds at most :data:`MAX_SERIES` of them, and a histogram keeps its
count, sum, min and max (not every observation).
"""

from __future__ import annotations

import math
import re
import threading
from importlib import resources
from typing import Any

from actors import errors
from actors.lua import Caller, register_module
from wippy_compat._context import AppResources, resources_of

__all__ = ["MAX_SERIES", "Metrics", "metrics_of"]

MAX_SERIES = 10_000
"""The most series (name and labels) one app's collector holds."""

_NAME = re.compile(r"[A-Za-z_:][A-Za-z0-9_:.]*")


class Metrics:
    """One app's metric series."""

    def __init__(self, resources: AppResources) -> None:
        self._lock = threading.Lock()
        self._series: dict[tuple[str, str, tuple[tuple[str, str], ...]], Any] = {}

    def record(self, kind: str, name: Any, value: Any, labels: Any) -> bool:
        if not isinstance(name, str) or not _NAME.fullmatch(name):
            raise errors.Error(errors.INVALID, f"metrics: invalid metric name {name!r}")
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise errors.Error(errors.INVALID, f"metrics: {name}: the value must be a finite number")
        if labels is None:
            labels = {}
        if not isinstance(labels, dict):
            raise errors.Error(errors.INVALID, f"metrics: {name}: labels must be a table of strings")
        key_labels = tuple(sorted((str(key), str(item)) for key, item in labels.items()))
        family = "histogram" if kind == "histogram" else "counter" if kind.startswith("counter") else "gauge"
        key = (family, name, key_labels)
        with self._lock:
            current = self._series.get(key)
            if current is None and len(self._series) >= MAX_SERIES:
                raise errors.Error(errors.LIMIT_EXCEEDED, f"metrics: more than {MAX_SERIES} series")
            if kind == "counter_add":
                if value < 0:
                    raise errors.Error(errors.INVALID, f"metrics: {name}: a counter only goes up")
                self._series[key] = (current or 0) + value
            elif kind == "gauge_set":
                self._series[key] = value
            elif kind == "gauge_add":
                self._series[key] = (current or 0) + value
            else:
                count, total, low, high = current or (0, 0.0, math.inf, -math.inf)
                self._series[key] = (count + 1, total + value, min(low, value), max(high, value))
        return True

    def snapshot(self) -> list[dict[str, Any]]:
        """Every series: ``{type, name, labels, value}`` (a histogram's value: count, sum, min, max)."""
        with self._lock:
            items = list(self._series.items())
        rows = []
        for (family, name, labels), value in sorted(items):
            if family == "histogram":
                count, total, low, high = value
                value = {"count": count, "sum": total, "min": low, "max": high}
            rows.append({"type": family, "name": name, "labels": dict(labels), "value": value})
        return rows


def metrics_of(resources: AppResources) -> Metrics:
    return resources.part("metrics", Metrics)


def _record(caller: Caller, kind: str, name: Any, value: Any, labels: Any = None) -> bool:
    return metrics_of(resources_of(caller)).record(kind, name, value, labels)


register_module(
    "metrics", resources.files(__package__) / "lua" / "metrics.lua", {"record": _record}, in_workflows=False
)
