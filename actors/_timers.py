"""One timer thread per node for every delayed action.

Cancel deadlines, Lua ``time.sleep``/``time.after``, supervisor restart
backoff: all of them are "deliver this signal later".  A single thread with a
heap serves them all, so sleeping processes cost no thread.  Callbacks run on
the timer thread and must be quick (they only deliver signals).
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from collections.abc import Callable

__all__ = ["Timer", "Timers"]

logger = logging.getLogger("actors.timers")


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
        """Run ``callback`` on the timer thread after ``delay`` seconds."""
        timer = Timer(self._clock() + max(0.0, delay), callback)
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
                        break
                    self._cond.wait(remaining)
                else:
                    return
            try:
                timer._fire()
            except Exception:
                logger.exception("timer callback failed")
