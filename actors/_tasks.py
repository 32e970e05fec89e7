"""The cooperative scheduler inside one process.

A coroutine process (Python ``async def`` or Lua) is a *main* task plus the
tasks it starts with ``spawn``; only one runs at a time and a switch happens
only when a task waits.  A task is anything with ``send(value)`` and
``throw(exc)`` that yields *operations*:

* channel operations (``RECV``, ``SEND``, ``SELECT``), ``SPAWN``,
  ``YIELD`` and ``PAUSE`` are performed here;
* every other operation (sleep, a function call, …) goes to the *driver*,
  which either completes it at once or later calls :meth:`Scheduler.wake`.

The process driver performs operations for real; the workflow driver
performs them through Temporal.  The scheduler itself is deterministic: the
same wake-ups in the same order always give the same interleaving, which is
what replaying a workflow needs.
"""

from __future__ import annotations

from collections import deque
from typing import Any, Protocol

from actors import errors
from actors._routing import Router
from actors.channel import RECV, SELECT, SEND, Channel, ChannelClosed, Waiter, ready_case

__all__ = [
    "DEADLOCKED",
    "DEADLOCK_MESSAGE",
    "DONE",
    "PAUSE",
    "PAUSED",
    "RECV",
    "SELECT",
    "SEND",
    "SPAWN",
    "WAITING",
    "YIELD",
    "Driver",
    "Scheduler",
    "Task",
]

SPAWN = "spawn"  # (SPAWN, coroutine) -> Task
YIELD = "yield"  # (YIELD,) -> None, after the other runnable tasks had a turn
PAUSE = "pause"  # (PAUSE,) -> None, when the process runs again (its slice's budget is spent)

# Where Scheduler.advance left the program.
DONE = "done"
"""The main task returned or a task raised: ``Scheduler.outcome`` holds how."""
PAUSED = "paused"
"""The budget is spent with tasks still runnable: go on in the next slice."""
DEADLOCKED = "deadlocked"
"""Every task waits and nothing can ever wake one."""
WAITING = "waiting"
"""Every task waits for something outside (a message, a timer, a call)."""

DEADLOCK_MESSAGE = "deadlock: every coroutine is blocked and nothing can wake them"

_IMMEDIATE_LIMIT = 10_000


class Coroutine(Protocol):
    def send(self, value: Any, /) -> Any: ...

    def throw(self, exc: BaseException, /) -> Any: ...


class Driver(Protocol):
    def perform(self, task: Task, op: tuple[Any, ...]) -> tuple[bool, Any] | None:
        """Perform a non-channel operation.

        Return ``(True, result)`` when it completed now, ``(False, exc)`` to
        raise ``exc`` in the task now, or ``None`` when the driver will call
        ``scheduler.wake(task, ...)`` later.
        """
        ...


class Task:
    """One coroutine of a process."""

    __slots__ = ("coro", "external_wait", "finished", "id", "took", "waiting")

    def __init__(self, coro: Coroutine, task_id: int) -> None:
        self.coro = coro
        self.id = task_id
        self.finished = False
        self.waiting: list[Channel] | None = None
        """Channels the task is blocked on (``None``: not blocked on channels)."""
        self.external_wait = False
        """Blocked on a driver operation (a timer, a call)."""
        self.took: Channel | None = None
        """The channel whose value the task was woken with and has not run with yet."""

    def __repr__(self) -> str:
        return f"<Task {self.id}{' finished' if self.finished else ''}>"


class Scheduler:
    """Runs a process's tasks until all of them wait.  See the module docstring."""

    __slots__ = (
        "_next_id",
        "_runnable",
        "_spent",
        "budget",
        "driver",
        "main",
        "outcome",
        "paused",
        "router",
        "tasks",
    )

    def __init__(self, driver: Driver, router: Router | None = None) -> None:
        self.driver = driver
        self.router = router
        """Flushed before every resume when dirty: the mailbox moves at every scheduling step."""
        self.tasks: dict[int, Task] = {}
        self.main: Task | None = None
        self.outcome: tuple[bool, Any] | None = None
        """``(True, value)`` when main returned, ``(False, exc)`` when any task raised."""
        self._runnable: deque[tuple[Task, Any, BaseException | None]] = deque()
        self._next_id = 0
        self.budget: int | None = None
        """Operations one :meth:`run` may perform before it pauses (``None``: no limit).
        A process driver sets it so that a process which never waits still lets the
        other processes of its host run (Erlang's reductions); workflows leave it."""
        self.paused = False
        """True when the last :meth:`run` stopped on its budget with tasks still runnable."""
        self._spent = 0

    # -- tasks ------------------------------------------------------------------------

    def spawn(self, coro: Coroutine, *, main: bool = False) -> Task:
        """Add a task; it runs at the next :meth:`run` after those already runnable."""
        self._next_id += 1
        task = Task(coro, self._next_id)
        self.tasks[task.id] = task
        if main:
            self.main = task
        self._runnable.append((task, None, None))
        return task

    @property
    def spawned(self) -> int:
        """How many tasks were ever spawned (a driver compares it to see whether any were)."""
        return self._next_id

    def end_main(self, ok: bool, result: Any) -> None:
        """The main coroutine ended before it became a task (it finished in its first run)."""
        self.outcome = (ok, result)

    def wake(self, task: Task, value: Any = None, exc: BaseException | None = None) -> None:
        """Make ``task`` runnable with ``value`` (or ``exc`` to raise in it)."""
        if task.finished:
            return
        task.waiting = None
        task.external_wait = False
        task.took = None
        self._runnable.append((task, value, exc))

    def handed(self) -> list[tuple[Channel, Any]]:
        """``(channel, value)`` for each value a channel handed a task that has not run with it yet."""
        found = []
        for task, value, exc in self._runnable:
            channel = task.took
            if channel is None or exc is not None or task.finished or type(value) is not tuple:
                continue
            if len(value) == 2 and value[1]:  # a receive: (value, ok)
                found.append((channel, value[0]))
            elif len(value) == 3 and value[2]:  # a select: (index, value, ok)
                found.append((channel, value[1]))
        return found

    def stop_all(self) -> None:
        """End every task for good (the program is replaced: ``process.upgrade``); the scheduler goes on."""
        for task in self.tasks.values():
            task.finished = True
            close = getattr(task.coro, "close", None)
            if close is not None:
                close()
        self.tasks.clear()
        self._runnable.clear()
        self.main = None

    def charge(self) -> bool:
        """Count an operation a task performed without yielding; True when the budget is spent.

        The task then yields ``PAUSE``: the process pauses as if the
        operation had gone through :meth:`run`.
        """
        if self.budget is None:
            return False
        self._spent += 1
        return self._spent >= self.budget

    def advance(self, *, until_quiet: bool = True) -> str:
        """The run loop of every coroutine program: flush the mailbox, run the tasks.

        With ``until_quiet`` (processes) it goes on while running the tasks
        made more of the mailbox movable; without it (workflows) it runs the
        tasks once and the driver yields to Temporal's event loop before the
        next round, so the commands of the asyncio tasks the operations
        started keep their order in the history.  Returns ``DONE``,
        ``PAUSED``, ``DEADLOCKED`` or ``WAITING``.
        """
        router = self.router
        while True:
            if router is not None and router.dirty:
                router.flush()
            self.run()
            if (
                not until_quiet
                or self.outcome is not None
                or self.paused
                or router is None
                or not router.dirty
            ):
                break
        if self.outcome is not None:
            return DONE
        if self.paused:
            return PAUSED
        if self.deadlocked():
            return DEADLOCKED
        return WAITING

    def run(self) -> None:
        """Run tasks until every task waits, the process is done, or the budget is spent."""
        runnable = self._runnable
        self._spent = 0
        self.paused = False
        while runnable and self.outcome is None and not self.paused:
            task, value, exc = runnable.popleft()
            if task.finished:
                continue
            self._step(task, value, exc)

    def deadlocked(self) -> bool:
        """True when no task can ever run again (nothing external to wait for)."""
        if self.outcome is not None or self._runnable:
            return False
        for task in self.tasks.values():
            if task.finished:
                continue
            if task.external_wait:
                return False
            if task.waiting is None or any(channel.external for channel in task.waiting):
                return False
        return True

    def close(self) -> None:
        """Drop every task (the process ended)."""
        for task in self.tasks.values():
            task.finished = True
            close = getattr(task.coro, "close", None)
            if close is not None:
                try:
                    close()
                except Exception:  # a coroutine refusing to close is dropped anyway
                    pass
        self.tasks.clear()
        self._runnable.clear()
        # Break the cycles through the driver and the main task (driver -> scheduler ->
        # main task -> coroutine -> driver), so refcounting frees an ended process at once
        # instead of the cyclic GC collecting a dozen objects per process later.
        self.main = None
        self.driver = None  # type: ignore[assignment]
        self.router = None

    # -- one task step ---------------------------------------------------------------

    def _step(self, task: Task, value: Any, exc: BaseException | None) -> None:
        router = self.router
        if task.took is not None:
            task.took = None  # it runs with the value now
        for _ in range(_IMMEDIATE_LIMIT):
            if router is not None and router.dirty:
                router.flush()
            try:
                op = task.coro.throw(exc) if exc is not None else task.coro.send(value)
            except StopIteration as stop:
                self._finish(task, True, stop.value)
                return
            except BaseException as error:  # any uncaught error ends the process
                self._finish(task, False, error)
                return
            completed = self._perform(task, op)
            if completed is None:
                return
            ok, result = completed
            value, exc = (result, None) if ok else (None, result)
            if self.budget is not None:
                self._spent += 1
                if self._spent >= self.budget:
                    self.paused = True  # the driver lets the host run others, then continues
                    break
        if self.paused:  # it goes on first when the process runs again
            self._runnable.appendleft((task, value, exc))
        else:  # a task that never waits would starve the others: requeue it
            self._runnable.append((task, value, exc))

    def _finish(self, task: Task, ok: bool, result: Any) -> None:
        task.finished = True
        del self.tasks[task.id]
        if not ok:
            self.outcome = (False, result)
        elif task is self.main:
            self.outcome = (True, result)

    def _perform(self, task: Task, op: Any) -> tuple[bool, Any] | None:
        kind = op[0]
        if kind == RECV:
            return self._receive(task, op[1])
        if kind == SEND:
            return self._send(task, op[1], op[2])
        if kind == SELECT:
            return self._select(task, op[1], op[2])
        if kind == SPAWN:
            return True, self.spawn(op[1])
        if kind == YIELD:
            self._runnable.append((task, None, None))
            return None
        if kind == PAUSE:
            self._runnable.appendleft((task, None, None))  # it goes on first when the process runs again
            self.paused = True
            return None
        completed = self.driver.perform(task, op)
        if completed is None:
            task.external_wait = True
        return completed

    def _receive(self, task: Task, channel: Channel) -> tuple[bool, Any] | None:
        received = channel.try_receive()
        if received is not None:
            return True, received

        def resume(_index: int, value: Any, ok: bool) -> None:
            self.wake(task, (value, ok))
            task.took = channel

        task.waiting = [channel]
        channel.wait_receive(Waiter(resume), 0)
        return None

    def _send(self, task: Task, channel: Channel, value: Any) -> tuple[bool, Any] | None:
        try:
            if channel.try_send(value):
                return True, True
        except ChannelClosed as closed:
            return False, closed

        def resume(_index: int, result: Any, _ok: bool) -> None:
            if isinstance(result, ChannelClosed):
                self.wake(task, exc=result)
            else:
                self.wake(task, True)

        task.waiting = [channel]
        channel.wait_send(Waiter(resume), 0, value)
        return None

    def _select(
        self, task: Task, cases: list[tuple[Channel, bool, Any]], has_default: bool
    ) -> tuple[bool, Any] | None:
        try:
            ready = ready_case(cases)
        except ChannelClosed as closed:
            return False, closed
        if ready is not None:
            return True, ready
        if has_default:
            return True, (-1, None, True)
        if not cases:
            return False, errors.Error(errors.INVALID, "select with no cases and no default blocks forever")
        channels = [channel for channel, _, _ in cases]

        def resume(index: int, value: Any, ok: bool) -> None:
            for other in channels:
                other.withdraw(waiter)
            if isinstance(value, ChannelClosed):
                self.wake(task, exc=value)
            else:
                self.wake(task, (index, value, ok))
                if not cases[index][1]:  # a receive case
                    task.took = channels[index]

        waiter = Waiter(resume)
        task.waiting = channels
        for index, (channel, is_send, value) in enumerate(cases):
            if is_send:
                channel.wait_send(waiter, index, value)
            else:
                channel.wait_receive(waiter, index)
        return None
