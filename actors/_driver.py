"""The process driver: a coroutine process run for real on a host.

``CoroutineDriver`` is the behaviour shared by Python coroutine processes and
Lua processes.  It joins three pieces:

* the :class:`~actors._routing.Router` (mailbox → topic, inbox and events
  channels);
* the :class:`~actors._tasks.Scheduler` (the process's coroutines);
* real effects for operations that wait: timers on the node's timer thread,
  whose expiry comes back as a signal in the process's own mailbox, so a
  wake-up is ordered with everything else the process receives.

After each mailbox batch the driver alternates "flush the router" and "run the
tasks" until nothing moves, then checks whether the main task has finished
(the process exits with its result) or every task is stuck for good (a
deadlock error).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from actors import errors
from actors._process import CALL, Behaviour, Process, message_bytes
from actors._routing import Router
from actors._tasks import DEADLOCK_MESSAGE, DEADLOCKED, DONE, PAUSED, Scheduler, Task
from actors._timers import Timer
from actors.channel import Channel
from actors.events import Cancel, Exit, LinkDown, Message
from actors.pid import PID

__all__ = ["SLEEP", "CoroutineDriver", "Ticker"]

SLICE_BUDGET = 256
"""Operations a process performs in one slice before the other processes of its host get a turn."""


def _continue(_process: Process) -> None:
    """A paused process's own wake-up: its next slice goes on where it stopped."""


SLEEP = "sleep"  # (SLEEP, seconds) -> None


class CoroutineDriver(Behaviour):
    """Base behaviour of coroutine processes; subclasses create the main task."""

    __slots__ = ("_timers", "process", "router", "scheduler")

    holds_messages = True  # the router holds them until a channel takes them

    def __init__(self) -> None:
        self.process: Process | None = None
        self.router = Router()
        self.scheduler = Scheduler(self, self.router)
        self.scheduler.budget = SLICE_BUDGET
        self._timers: set[Timer] | None = None  # made on first use: most processes never sleep

    # -- what subclasses provide ---------------------------------------------------------

    def create_main(self, process: Process) -> Any:
        """Return the main coroutine of the process."""
        raise NotImplementedError

    def result_of(self, ok: bool, value: Any) -> tuple[Any, errors.Error | None]:
        """Turn the main task's outcome into the process result ``(value, error)``."""
        if ok:
            return value, None
        return None, errors.from_exception(value)

    def perform_other(self, task: Task, op: tuple[Any, ...]) -> tuple[bool, Any] | None:
        """Operations beyond sleeping (subclasses add calls, …)."""
        return False, errors.Error(errors.INVALID, f"unknown operation {op[0]!r}")

    # -- Behaviour ------------------------------------------------------------------------

    def started(self, process: Process) -> None:
        self.process = process
        self.scheduler.spawn(self.create_main(process), main=True)

    def message(self, process: Process, sender: PID | None, topic: str, payloads: tuple[Any, ...]) -> None:
        self.router.push_message(Message(topic, sender, payloads), message_bytes(payloads))

    def event(self, process: Process, event: Exit | LinkDown | Cancel) -> None:
        self.router.push_event(event)

    def idle(self, process: Process) -> None:
        scheduler = self.scheduler
        status = scheduler.advance()
        router = self.router
        if router.taken_bytes:  # the program took messages: their room in the mailbox is free again
            process.took(router.taken_bytes)
            router.taken_bytes = 0
        if status is DONE:
            value, error = self.result_of(*scheduler.outcome)  # type: ignore[misc]
            process.exit(value, error)
        elif status is PAUSED:
            process.deliver((CALL, _continue))  # back of the host's queue: others run first
        elif status is DEADLOCKED:
            process.exit(error=errors.Error(errors.INTERNAL, DEADLOCK_MESSAGE))

    def stopped(self, process: Process) -> None:
        if self._timers:
            for timer in self._timers:
                timer.cancel()
            self._timers = None
        self.scheduler.close()
        self.router.close()
        self.process = None  # no cycle back to the ended process

    # -- operations -----------------------------------------------------------------------

    def perform(self, task: Task, op: tuple[Any, ...]) -> tuple[bool, Any] | None:
        if op[0] == SLEEP:
            seconds = op[1]
            if seconds <= 0:
                return True, None
            self.call_later(seconds, lambda: self.scheduler.wake(task, None))
            return None
        return self.perform_other(task, op)

    def call_later(self, seconds: float, action: Any) -> Timer:
        """Run ``action()`` in this process's context after ``seconds``.

        ``LIMIT_EXCEEDED`` when the process has ``max_timers`` pending already.
        """
        process = self.process
        assert process is not None
        if self._timers is None:
            self._timers = set()
        timers = self._timers
        if len(timers) >= process.limits.max_timers:
            raise errors.Error(
                errors.LIMIT_EXCEEDED,
                f"process {process.pid} has {len(timers):,} timers pending (limit {process.limits.max_timers:,})",
            )
        timer: Timer

        def fire() -> None:
            process.deliver((CALL, run))

        def run(_process: Process) -> None:
            timers.discard(timer)
            action()

        timer = process.node.timers.call_later(seconds, fire)
        timers.add(timer)
        return timer

    def cancel_timer(self, timer: Timer) -> bool:
        """Stop a timer made by :meth:`call_later`; True if it had not fired."""
        if self._timers:
            self._timers.discard(timer)
        return timer.cancel()

    def call_every(self, seconds: float, tick: Callable[[], Any]) -> Ticker:
        """Run ``tick()`` in this process's context every ``seconds`` until :meth:`stop_ticker`.

        The period is at least the host's ``min_ticker_period``.  When ``tick()``
        returns ``False`` (nobody took the last ticks: the channel is full) the
        ticker pauses until :meth:`Ticker.resume` (the reader took one), so a
        ticker nobody reads costs nothing.
        """
        process = self.process
        assert process is not None
        ticker = Ticker(self, max(seconds, process.limits.min_ticker_period), tick)
        ticker.arm()
        return ticker

    def stop_ticker(self, ticker: Ticker) -> bool:
        """Stop a ticker made by :meth:`call_every`; True if it was still ticking."""
        return ticker.stop()

    def after(self, seconds: float, stamp: Callable[[], Any] = time.time) -> Channel:
        """A channel that receives ``stamp()`` (the wall-clock time) once, after ``seconds``, then closes."""
        if seconds <= 0:
            raise errors.Error(errors.INVALID, f"after() needs a positive duration, got {seconds}")
        channel = Channel(1, external=True)

        def deliver() -> None:
            channel.offer(stamp())
            channel.close()

        self.call_later(seconds, deliver)
        return channel


class Ticker:
    """A repeating timer of a process (:meth:`CoroutineDriver.call_every`): re-armed after each tick."""

    __slots__ = ("_driver", "_tick", "parked", "period", "timer")

    def __init__(self, driver: CoroutineDriver, period: float, tick: Callable[[], Any]) -> None:
        self._driver: CoroutineDriver | None = driver
        self._tick = tick
        self.period = period
        self.timer: Timer | None = None
        self.parked = False
        """Paused because its last tick was not taken (see :meth:`resume`)."""

    def arm(self) -> None:
        driver = self._driver
        if driver is not None:
            self.timer = driver.call_later(self.period, self._fire)

    def _fire(self) -> None:
        self.timer = None
        if self._driver is None:
            return  # stopped meanwhile
        if self._tick() is False:
            self.parked = True  # nobody reads the ticks: no more until somebody does
        else:
            self.arm()

    def resume(self) -> None:
        """The reader took a tick (there is room again): tick on from one period from now."""
        if self.parked and self._driver is not None:
            self.parked = False
            self.arm()

    def stop(self) -> bool:
        driver, self._driver = self._driver, None
        if driver is None:
            return False
        timer, self.timer = self.timer, None
        if timer is not None:
            driver.cancel_timer(timer)
        return True
