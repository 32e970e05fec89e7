"""One timer thread per node for every delayed action.

Cancel deadlines, Lua ``time.sleep``/``time.after``, supervisor restart
backoff: all of them are "deliver this signal later".  A single thread with a
heap serves them all, so sleeping processes cost no thread.  Callbacks run on
the timer thread and must be quick (they only deliver signals).

Nothing a caller passes can stop the thread: delays are checked when they are
scheduled (:func:`check_delay`, ``INVALID`` for NaN, infinities and anything
past Go's longest duration, about 292 years), the thread waits in bounded
steps, and an error raised by a callback or while scheduling is logged and
the thread goes on serving the other timers.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import math
import threading
import time
from collections.abc import Callable
from typing import Any

from actors import errors

__all__ = ["MAX_DELAY", "Timer", "Timers", "check_delay"]

logger = logging.getLogger("actors.timers")

MAX_DELAY = (2**63 - 1) / 1e9
"""The longest delay in seconds: Go's longest ``time.Duration`` (about 292 years)."""

_MAX_WAIT = 3600.0
"""The thread wakes at least this often (seconds): a far deadline never reaches the OS as one long wait."""


def check_delay(delay: Any, what: str = "delay") -> float:
    """``delay`` in seconds as a float; ``INVALID`` error when no timer can honour it.

    Refused: non-numbers, NaN, infinities and delays past :data:`MAX_DELAY`.
    A negative delay is a deadline already past: it is allowed and fires at
    once (callers that must refuse negatives check that themselves).
    """
    if isinstance(delay, bool) or not isinstance(delay, (int, float)):
        raise errors.Error(errors.INVALID, f"{what} must be a number of seconds, got {type(delay).__name__}")
    try:
        seconds = float(delay)
    except OverflowError:  # an int too large for a float
        seconds = math.inf if delay > 0 else -math.inf
    if math.isnan(seconds) or seconds > MAX_DELAY or seconds == -math.inf:
        raise errors.Error(
            errors.INVALID, f"{what} out of range: {delay!r} s (at most {MAX_DELAY:.0f} s, about 292 years)"
        )
    return seconds


class Timer:
    """A pending callback; :meth:`cancel` stops it if it has not fired."""

    __slots__ = ("_callback", "deadline")

    def __init__(self, deadline: float, callback: Callable[[], None]) -> None:
        self.deadline = deadline
        self._callback: Callable[[], None] | None = callback

    def cancel(self) -> bool:
        """Stop the timer; True if it had not fired yet."""
        pending = self._callback is not None
        self._callback = None
        return pending

    @property
    def pending(self) -> bool:
        return self._callback is not None

    def _fire(self) -> None:
        callback = self._callback
        self._callback = None
        if callback is not None:
            callback()


class Timers:
    """A heap of timers served by one daemon thread (started lazily)."""

    def __init__(self, name: str = "actors-timers", clock: Callable[[], float] = time.monotonic) -> None:
        self._name = name
        self._clock = clock
        self._heap: list[tuple[float, int, Timer]] = []
        self._seq = itertools.count()
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._stopped = False

    def call_later(self, delay: float, callback: Callable[[], None]) -> Timer:
        """Run ``callback`` on the timer thread after ``delay`` seconds.

        ``INVALID`` error (nothing scheduled) for a delay :func:`check_delay` refuses.
        """
        timer = Timer(self._clock() + max(0.0, check_delay(delay)), callback)
        with self._cond:
            if self._stopped:
                raise RuntimeError("timer service stopped")
            heapq.heappush(self._heap, (timer.deadline, next(self._seq), timer))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
                self._thread.start()
            elif self._heap[0][2] is timer:
                self._cond.notify()
        return timer

    def pending_count(self) -> int:
        """Timers not yet fired nor cancelled (for leak checks)."""
        with self._cond:
            return sum(1 for _, _, timer in self._heap if timer.pending)

    def stop(self) -> None:
        """Stop the thread; pending timers never fire."""
        with self._cond:
            self._stopped = True
            self._heap.clear()
            self._cond.notify()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=5)

    def _run(self) -> None:
        while True:
            try:
                timer = self._next_due()
            except BaseException:  # the thread serves every process of the node: it must not die
                logger.exception("timer thread: scheduling failed; still serving")
                time.sleep(0.01)  # a persistent fault must not spin a core
                continue
            if timer is None:
                return
            try:
                timer._fire()
            except BaseException:  # one bad callback must not stop the others
                logger.exception("timer callback failed")

    def _next_due(self) -> Timer | None:
        """Wait for the earliest pending timer to be due and take it; None once stopped."""
        with self._cond:
            while not self._stopped:
                if not self._heap:
                    self._cond.wait()
                    continue
                deadline, _, timer = self._heap[0]
                if not timer.pending:
                    heapq.heappop(self._heap)
                    continue
                remaining = deadline - self._clock()
                if remaining <= 0:
                    heapq.heappop(self._heap)
                    return timer
                self._cond.wait(min(remaining, _MAX_WAIT))
            return None
