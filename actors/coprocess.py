"""Python coroutine processes: the Lua process API, in Python.

Spawn an ``async def`` function; it gets a :class:`ProcessContext` first::

    async def counter(proc, start):
        total = start
        increments = proc.listen("add")
        stop = proc.listen("stop", message=True)
        while True:
            index, value, ok = await select(increments.case_receive(), stop.case_receive())
            if index == 1:
                proc.send(value.sender, "total", total)
                return total
            total += value

    pid = node.spawn(counter, 10)

It runs on the host pool like any process (no thread of its own).  ``await``
only the operations of this module and :mod:`actors.channel` (channel
operations, ``select``, ``proc.sleep``): an asyncio awaitable does not work
here, because the scheduler is the process's, not asyncio's.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from actors import _ops
from actors._driver import SLEEP, CoroutineDriver
from actors._process import Process
from actors._tasks import SPAWN, YIELD, Task
from actors.channel import Channel, _Operation
from actors.pid import PID

__all__ = ["CoroutineBehaviour", "ProcessContext"]


class ProcessContext:
    """What a coroutine process can do; the first argument of its function."""

    __slots__ = ("_driver", "_process")

    def __init__(self, process: Process, driver: CoroutineBehaviour) -> None:
        self._process = process
        self._driver = driver

    @property
    def pid(self) -> PID:
        return self._process.pid

    @property
    def node(self) -> Any:
        return self._process.node

    @property
    def context(self) -> dict[str, Any]:
        """Values inherited through ``spawn(..., context=...)``."""
        return dict(self._process.context or {})

    # -- mailbox ----------------------------------------------------------------------

    def inbox(self) -> Channel:
        """Messages whose topic nobody listens to, as :class:`~actors.Message` objects."""
        return self._driver.router.inbox()

    def events(self) -> Channel:
        """EXIT, trapped LINK_DOWN and CANCEL events."""
        return self._driver.router.events()

    def listen(self, topic: str, *, message: bool = False) -> Channel:
        """Messages on exactly ``topic``: payload data, or Message objects with ``message=True``."""
        return self._driver.router.listen(topic, messages=message)

    def unlisten(self, channel: Channel) -> bool:
        return self._driver.router.unlisten(channel)

    # -- other processes -------------------------------------------------------------------

    def send(self, dest: PID | str, topic: str, *payloads: Any) -> None:
        self._process.node.send(dest, topic, *payloads)

    def spawn(self, target: Any, *args: Any, **options: Any) -> PID:
        return self._process.node.spawn(target, *args, **options)

    def link(self, dest: PID | str) -> None:
        _ops.link(self._process, dest)

    def unlink(self, dest: PID | str) -> None:
        _ops.unlink(self._process, dest)

    def monitor(self, dest: PID | str) -> None:
        _ops.monitor(self._process, dest)

    def unmonitor(self, dest: PID | str) -> None:
        _ops.unmonitor(self._process, dest)

    @property
    def trap_links(self) -> bool:
        return self._process.trap_links

    @trap_links.setter
    def trap_links(self, value: bool) -> None:
        _ops.set_trap_links(self._process, value)

    def terminate(self, dest: PID | str) -> None:
        self._process.node.terminate(dest)

    def cancel(self, dest: PID | str, deadline: float | None = None, reason: str = "") -> None:
        self._process.node.cancel(dest, deadline, reason)

    def register(self, name: str) -> None:
        self._process.node.register(name, self._process.pid)

    # -- coroutines and time ----------------------------------------------------------------

    def go(self, coroutine: Coroutine[Any, Any, Any]) -> Awaitable[Task]:
        """``await proc.go(other())``: run another coroutine of this process."""
        return _Operation((SPAWN, coroutine))

    def sleep(self, seconds: float) -> Awaitable[None]:
        """``await proc.sleep(0.5)``: wait without blocking the other coroutines."""
        return _Operation((SLEEP, float(seconds)))

    def pause(self) -> Awaitable[None]:
        """Let the other runnable coroutines run first."""
        return _Operation((YIELD,))

    def after(self, seconds: float) -> Channel:
        """A channel receiving the time once after ``seconds`` (for ``select`` timeouts)."""
        return self._driver.after(seconds)


class CoroutineBehaviour(CoroutineDriver):
    """Runs ``fn(ProcessContext, *args, **kwargs)`` as the main task."""

    def __init__(
        self, fn: Callable[..., Coroutine[Any, Any, Any]], args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> None:
        super().__init__()
        self._fn = fn
        self._args = args
        self._kwargs = kwargs

    def create_main(self, process: Process) -> Any:
        return self._fn(ProcessContext(process, self), *self._args, **self._kwargs)
