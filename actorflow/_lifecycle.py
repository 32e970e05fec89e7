"""Starting and stopping an app's parts in dependency order.

An app is a set of *units*: things that start and stop (a process host, the
Temporal clients and workers, the service manager, one ``process.service``,
one ``http.service``, …).  Each unit says which entries it provides and which
it requires (``lifecycle.requires`` / ``depends_on`` plus the entries its own
fields reference).  :func:`levels` sorts them into levels: a unit's level is
one more than the highest level of what it requires, so a level's units only
need units of lower levels.

:class:`Runner` starts the levels in order, one unit at a time, each bounded
by its ``start_timeout`` and judged by its ``lifecycle.startup``: a
``required`` unit that fails stops the app with that error, an ``optional``
one is logged and the app goes on.  It stops them in reverse: the units of one
level in parallel, each given its ``stop_timeout``, so an app whose parts
ignore the request to stop waits for the largest of those timeouts, never
their sum.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from actors import errors
from actors.entries import Entry, Registry
from actors.lua.stdlib import duration_seconds

__all__ = ["STARTUP_MODES", "Lifecycle", "Runner", "Unit", "check_startup", "levels", "lifecycle_of"]

logger = logging.getLogger("actorflow.lifecycle")

STARTUP_MODES = ("required", "optional")

STOP_GRACE = 1.0
"""Seconds a unit may take past its ``stop_timeout`` (its own bookkeeping) before it is left behind."""


@dataclass(frozen=True)
class Lifecycle:
    """An entry's ``lifecycle`` block, with defaults."""

    startup: str = "required"
    start_timeout: float = 10.0
    stop_timeout: float = 10.0
    requires: tuple[str, ...] = ()
    auto_start: bool | None = None


def lifecycle_of(entry: Entry, *, start_timeout: float = 10.0, stop_timeout: float = 10.0) -> Lifecycle:
    """The lifecycle of ``entry`` (checked at load time, see :func:`check_startup`)."""
    block = entry.get("lifecycle") or {}

    def seconds(key: str, default: float) -> float:
        value = block.get(key)
        if value in (None, 0, ""):  # zero means "the default", as in the runtime
            return default
        return duration_seconds(value, number_unit=1.0, what=f"lifecycle.{key}")

    requires = tuple(
        entry.ref(item) for item in [*(block.get("requires") or []), *(block.get("depends_on") or [])]
    )
    auto_start = block.get("auto_start")
    return Lifecycle(
        startup=str(block.get("startup") or "required"),
        start_timeout=seconds("start_timeout", start_timeout),
        stop_timeout=seconds("stop_timeout", stop_timeout),
        requires=requires,
        auto_start=auto_start if isinstance(auto_start, bool) else None,
    )


def check_startup(registry: Registry) -> list[tuple[Entry, str]]:
    """``lifecycle.startup`` problems of every entry: ``(entry, message)``."""
    problems = []
    for entry in registry:
        block = entry.get("lifecycle")
        if not isinstance(block, dict) or "startup" not in block:
            continue
        if block["startup"] not in STARTUP_MODES:
            problems.append(
                (entry, f"lifecycle.startup must be required or optional, got {block['startup']!r}")
            )
    return problems


class Unit(Protocol):
    """Something the app starts and stops."""

    id: str
    """What the start-up summary and errors call it (an entry ID, or ``kind:…``)."""
    provides: frozenset[str]
    """Entry IDs this unit starts (what other units may require)."""
    requires: frozenset[str]
    """Entry IDs this unit needs started first (IDs no unit provides are ignored)."""
    lifecycle: Lifecycle

    def start(self) -> None:
        """Start; raise an :class:`~actors.errors.Error` when it cannot."""
        ...

    def stop(self, timeout: float) -> None:
        """Stop within about ``timeout`` seconds (force what is left after it)."""
        ...


def levels(units: Sequence[Unit]) -> list[list[Unit]]:
    """``units`` in levels: every unit after everything it requires; a cycle is ``INVALID``."""
    provider: dict[str, Unit] = {}
    for unit in units:
        for entry_id in unit.provides:
            provider.setdefault(entry_id, unit)
    needs: dict[int, list[Unit]] = {}
    for unit in units:
        needs[id(unit)] = [
            provider[entry_id]
            for entry_id in sorted(unit.requires)
            if entry_id in provider and provider[entry_id] is not unit
        ]
    level_of: dict[int, int] = {}

    def visit(unit: Unit, path: tuple[Unit, ...]) -> int:
        known = level_of.get(id(unit))
        if known is not None:
            return known
        if unit in path:
            cycle = [*path[path.index(unit) :], unit]
            raise errors.Error(
                errors.INVALID,
                f"entries require each other in a cycle: {' → '.join(item.id for item in cycle)}",
            )
        level = 0
        for required in needs[id(unit)]:
            level = max(level, visit(required, (*path, unit)) + 1)
        level_of[id(unit)] = level
        return level

    for unit in units:
        visit(unit, ())
    result: list[list[Unit]] = [[] for _ in range(max(level_of.values(), default=-1) + 1)]
    for unit in units:  # declaration order within a level
        result[level_of[id(unit)]].append(unit)
    return result


@dataclass
class _Started:
    level: int
    unit: Unit


@dataclass
class Runner:
    """Starts units level by level and stops them in reverse (see the module docstring)."""

    progress: Callable[[str], None] = field(default=lambda message: logger.info("%s", message))
    states: dict[str, str] = field(default_factory=dict)
    """Unit ID → ``starting``, ``running``, ``failed``, ``stopping``, ``stopped``."""
    failures: dict[str, errors.Error] = field(default_factory=dict)
    _started: list[_Started] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self, units: Sequence[Unit], abort: threading.Event | None = None) -> None:
        """Start every unit in dependency order; a required failure stops what started and raises.

        ``abort`` set (an interrupt) stops starting: what started is stopped and ``CANCELED`` raised.
        """
        ordered = levels(units)
        for unit in units:
            self.states[unit.id] = "pending"
        for index, level in enumerate(ordered):
            for unit in level:
                if abort is not None and abort.is_set():
                    self.stop()
                    raise errors.Error(errors.CANCELED, "interrupted while starting")
                error = self._start_one(unit)
                if error is None:
                    with self._lock:
                        self._started.append(_Started(index, unit))
                    continue
                self.failures[unit.id] = error
                if unit.lifecycle.startup == "optional":
                    logger.warning(
                        "optional %s did not start: %s: %s", unit.id, error.kind(), error.message()
                    )
                    self.progress(f"{unit.id} did not start (optional, going on): {error.message()}")
                    continue
                self.stop()
                raise errors.Error(
                    error.kind(), f"{error.message()} (starting {unit.id})", retryable=error.retryable()
                )

    def _start_one(self, unit: Unit) -> errors.Error | None:
        """Start ``unit`` within its ``start_timeout``; the error, or None when it runs."""
        self.states[unit.id] = "starting"
        if getattr(unit, "start_on_caller_thread", False):
            return self._start_here(unit)
        outcome: list[BaseException | None] = []
        done = threading.Event()
        abandoned = threading.Event()

        def run() -> None:
            try:
                unit.start()
            except BaseException as exc:  # reported to the starting thread
                outcome.append(exc)
            else:
                outcome.append(None)
                if abandoned.is_set():  # started after we gave up on it: undo
                    _stop_quietly(unit, unit.lifecycle.stop_timeout)
            done.set()

        thread = threading.Thread(target=run, name=f"start-{unit.id}", daemon=True)
        thread.start()
        timeout = unit.lifecycle.start_timeout
        if not done.wait(timeout if math.isfinite(timeout) else None):
            abandoned.set()
            self.states[unit.id] = "failed"
            return errors.Error(errors.TIMEOUT, f"not started after {timeout:g} s (lifecycle.start_timeout)")
        failure = outcome[0]
        if failure is None:
            self.states[unit.id] = "running"
            return None
        self.states[unit.id] = "failed"
        if isinstance(failure, errors.Error):
            return failure
        logger.debug("starting %s failed", unit.id, exc_info=failure)
        return errors.from_exception(failure)

    def _start_here(self, unit: Unit) -> errors.Error | None:
        """Start on this thread (a unit whose child processes must die with it: Linux ties a
        child's parent-death signal to the thread that forked it); the timeout is judged after."""
        began = time.monotonic()
        try:
            unit.start()
        except Exception as exc:
            self.states[unit.id] = "failed"
            logger.debug("starting %s failed", unit.id, exc_info=True)
            return errors.from_exception(exc)
        took = time.monotonic() - began
        if took > unit.lifecycle.start_timeout:
            _stop_quietly(unit, unit.lifecycle.stop_timeout)
            self.states[unit.id] = "failed"
            return errors.Error(
                errors.TIMEOUT,
                f"took {took:.1f} s to start (lifecycle.start_timeout is {unit.lifecycle.start_timeout:g} s)",
            )
        self.states[unit.id] = "running"
        return None

    def stop_budget(self) -> float:
        """How long :meth:`stop` may take: the largest ``stop_timeout`` of each level, added up."""
        by_level: dict[int, float] = {}
        for item in self._started:
            by_level[item.level] = max(
                by_level.get(item.level, 0.0), item.unit.lifecycle.stop_timeout + STOP_GRACE
            )
        return sum(by_level.values())

    def stop(self) -> None:
        """Stop what started, highest level first; one level's units in parallel."""
        with self._lock:
            started, self._started = self._started, []
        by_level: dict[int, list[Unit]] = {}
        for item in started:
            by_level.setdefault(item.level, []).append(item.unit)
        for level in sorted(by_level, reverse=True):
            self._stop_level(list(reversed(by_level[level])))

    def _stop_level(self, units: Iterable[Unit]) -> None:
        threads = []
        for unit in units:
            self.states[unit.id] = "stopping"
            timeout = unit.lifecycle.stop_timeout

            def run(unit: Unit = unit, timeout: float = timeout) -> None:
                _stop_quietly(unit, timeout)
                self.states[unit.id] = "stopped"

            thread = threading.Thread(target=run, name=f"stop-{unit.id}", daemon=True)
            thread.start()
            threads.append((unit, thread, time.monotonic() + timeout + STOP_GRACE))
        for unit, thread, deadline in threads:
            thread.join(max(0.0, deadline - time.monotonic()))
            if thread.is_alive():
                logger.warning("%s still stopping after its stop_timeout: left behind", unit.id)


def _stop_quietly(unit: Unit, timeout: float) -> None:
    try:
        unit.stop(timeout)
    except Exception:
        logger.exception("stopping %s failed", unit.id)
