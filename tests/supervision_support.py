"""Children that record what happens to them, and a timer service the test controls."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from actorflow.pytest_plugin import wait_until
from actors import Actor, Cancel, LinkDown, Message


class Log:
    """A thread-safe record of (event, child) pairs."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.items: list[tuple[str, str]] = []

    def add(self, event: str, name: str) -> None:
        with self._lock:
            self.items.append((event, name))

    def take(self) -> list[tuple[str, str]]:
        with self._lock:
            items, self.items = self.items, []
        return items

    def count(self) -> int:
        with self._lock:
            return len(self.items)

    def wait_for(self, count: int, timeout: float = 5.0) -> list[tuple[str, str]]:
        """Wait until ``count`` events were recorded, then take every recorded event.

        Fails the test, saying what it waited for and what came, when fewer
        than ``count`` arrive within ``timeout`` seconds.
        """
        try:
            wait_until(lambda: self.count() >= count, timeout, what=f"{count} events in the log")
        except AssertionError as exc:
            with self._lock:
                seen = list(self.items)
            raise AssertionError(f"{exc}; it has {len(seen)}: {seen}") from None
        return self.take()


class Worker(Actor):
    """Records start/stop; "crash" raises, "exit" ends normally, "link" links to a peer."""

    def __init__(self, log: Log, name: str, trap: bool = False) -> None:
        super().__init__()
        self.log = log
        self.name = name
        self.trap = trap

    def on_start(self) -> None:
        self.trap_links = self.trap
        self.log.add("start", self.name)

    def on_receive(self, message: Any) -> Any:
        topic = message.topic if isinstance(message, Message) else message
        if topic == "crash":
            raise RuntimeError(f"{self.name} crashed")
        if topic == "exit":
            self.exit()
        if topic == "link":
            self.link(message.payload)
        return None

    def on_event(self, event: Any) -> None:
        if isinstance(event, LinkDown):
            self.log.add("link_down", self.name)
        else:
            super().on_event(event)

    def on_stop(self) -> None:
        self.log.add("stop", self.name)

    def on_failure(self, exc_type: Any, exc_value: Any, tb: Any) -> None:
        self.log.add("down", self.name)


class Stubborn(Actor):
    """Ignores CANCEL: only a deadline (termination) stops it."""

    def __init__(self, log: Log, name: str) -> None:
        super().__init__()
        self.log = log
        self.name = name

    def on_start(self) -> None:
        self.log.add("start", self.name)

    def on_event(self, event: Any) -> None:
        if isinstance(event, Cancel):
            self.log.add("ignored_cancel", self.name)

    def on_failure(self, exc_type: Any, exc_value: Any, tb: Any) -> None:
        self.log.add("killed", self.name)


class CrashOnStart(Actor):
    def on_start(self) -> None:
        raise RuntimeError("cannot start")


class CrashOnRestart(Actor):
    """Starts once; every later start (a restart) crashes in ``on_start``."""

    def __init__(self, starts: list[int]) -> None:
        super().__init__()
        self.starts = starts

    def on_start(self) -> None:
        self.starts.append(1)
        if len(self.starts) > 1:
            raise RuntimeError("cannot restart")

    def on_receive(self, message: Any) -> Any:
        raise RuntimeError("crashed")


class FailsToRestart(Actor):
    """Constructed once; every later construction (a restart) raises, so its spawn fails at once."""

    def __init__(self, constructions: list[int]) -> None:
        constructions.append(1)
        if len(constructions) > 1:
            raise RuntimeError("cannot restart")
        super().__init__()

    def on_receive(self, message: Any) -> Any:
        raise RuntimeError("crashed")


class FakeTimers:
    """``call_later`` that records delays and fires only when the test says so."""

    class Handle:
        def __init__(self, timers: FakeTimers, delay: float, callback: Callable[[], None]) -> None:
            self.delay = delay
            self.callback: Callable[[], None] | None = callback
            self.timers = timers

        def cancel(self) -> bool:
            pending = self.callback is not None
            self.callback = None
            return pending

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.handles: list[FakeTimers.Handle] = []
        self.delays: list[float] = []

    def call_later(self, delay: float, callback: Callable[[], None]) -> FakeTimers.Handle:
        handle = FakeTimers.Handle(self, delay, callback)
        with self._lock:
            self.handles.append(handle)
            self.delays.append(delay)
        return handle

    def pending(self) -> int:
        """How many timers wait to fire (not fired, not cancelled)."""
        with self._lock:
            return sum(1 for handle in self.handles if handle.callback is not None)

    def wait_pending(self, count: int = 1, timeout: float = 5.0) -> None:
        """Wait until ``count`` timers are pending; fails the test when they are not in ``timeout`` s."""
        try:
            wait_until(lambda: self.pending() >= count, timeout, what=f"{count} pending timers")
        except AssertionError as exc:
            raise AssertionError(f"{exc}; delays so far {self.delays}") from None

    def fire_all(self) -> None:
        with self._lock:
            handles, self.handles = self.handles, []
        for handle in handles:
            callback = handle.callback
            handle.callback = None
            if callback is not None:
                callback()


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds
