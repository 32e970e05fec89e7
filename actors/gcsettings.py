"""Python's cyclic garbage collector, set for a runtime that keeps many processes alive.

Every live process is a few dozen objects the collector tracks (its process
core, behaviour, router, scheduler, channels).  With CPython's default
thresholds (700, 10, 10) a full collection runs every 70,000 allocations net
and walks all of them, and every older collection walks the whole heap the app
had before it started (modules, the Temporal SDK, the registry): 10,000
spawns of Lua processes that stay alive spent 0.3-2.2 s in the collector.
Processes make no cyclic garbage (``tests/test_no_leaks.py``), so while a
runtime runs:

* what existed before it started is frozen (``gc.freeze``): never walked again;
* the thresholds are raised to :data:`THRESHOLDS`, so collections are rare
  and a full one rarer still.

:func:`enter` and :func:`leave` nest (several apps in one OS process): the
first ``enter`` changes the settings, the last ``leave`` restores them.
"""

from __future__ import annotations

import gc
import threading

__all__ = ["THRESHOLDS", "enter", "leave", "running"]

THRESHOLDS = (50_000, 20, 100)

_lock = threading.Lock()
_depth = 0
_saved: tuple[int, ...] | None = None


def enter() -> None:
    """A runtime starts: freeze the heap as it is, raise the thresholds (first caller only)."""
    global _depth, _saved
    with _lock:
        _depth += 1
        if _depth > 1:
            return
        _saved = gc.get_threshold()
        gc.freeze()
        gc.set_threshold(*THRESHOLDS)


def leave() -> None:
    """A runtime stopped: the collector's settings as they were (last caller only)."""
    global _depth, _saved
    with _lock:
        if _depth == 0:
            return
        _depth -= 1
        if _depth > 0:
            return
        gc.unfreeze()
        if _saved is not None:
            gc.set_threshold(*_saved)
        _saved = None


def running() -> int:
    """How many runtimes are between :func:`enter` and :func:`leave` now."""
    with _lock:
        return _depth
