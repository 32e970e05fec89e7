"""Running a coroutine program: its scheduler, its mailbox router, its run loop.

A coroutine program (a Python ``async def`` process, a Lua process, a Lua
workflow) is a set of tasks run one at a time by a :class:`Scheduler`, fed by
a :class:`Router` that sorts the mailbox into topic, inbox and events
channels.  A *driver* gives the scheduler the operations it does not perform
itself (its ``perform`` method) and calls :meth:`Scheduler.advance`, the one
run loop, whenever something may have moved: a process host after each
mailbox batch, the workflow driver after each wake-up.

This is the public face of :mod:`actors._tasks` and :mod:`actors._routing`,
for drivers outside this package (``temporal_bridge``'s workflow driver).
"""

from actors._routing import Router
from actors._tasks import DEADLOCK_MESSAGE, DEADLOCKED, DONE, PAUSED, WAITING, Driver, Scheduler, Task

__all__ = [
    "DEADLOCKED",
    "DEADLOCK_MESSAGE",
    "DONE",
    "PAUSED",
    "WAITING",
    "Driver",
    "Router",
    "Scheduler",
    "Task",
]
