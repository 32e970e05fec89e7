"""Channels: Go-style rendezvous and buffered queues between coroutines.

A channel lives inside one process and connects that process's coroutines
(Python ``async`` tasks or Lua coroutines); it is never shared between
processes, so it needs no lock.  The blocking side is expressed with
*waiters*: a coroutine that must wait registers a :class:`Waiter` and is
resumed through its callback when a partner arrives.  This module does not
know who resumes whom; the scheduler in :mod:`actors._tasks` does.

Semantics (the Lua API's):

* ``size == 0``: a send completes only when a receiver takes the value;
* ``size > 0``: a send completes at once while the buffer has room;
* after ``close``: buffered values are still received, then ``(None, False)``
  forever; sending raises ``ChannelClosed`` (also for senders blocked at
  close time); closing twice is harmless;
* ``select`` examines its cases in order and the first ready one wins
  (deterministic priority); with no ready case it blocks on all of them and
  the first to complete wins, the others are withdrawn.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Awaitable, Callable, Generator
from typing import Any

__all__ = ["RECV", "SELECT", "SEND", "Channel", "ChannelClosed", "Waiter", "ready_case", "select"]

# Operations a coroutine yields to its scheduler (see actors._tasks).
RECV = "recv"  # (RECV, channel) -> (value, ok)
SEND = "send"  # (SEND, channel, value) -> True, or ChannelClosed raised
SELECT = "select"  # (SELECT, [(channel, is_send, value)], has_default) -> (index, value, ok)

Resume = Callable[[int, Any, bool], None]
"""``resume(case_index, value, ok)``: wakes the waiting coroutine."""


class ChannelClosed(Exception):
    """Raised in a coroutine that sends on a closed channel."""

    def __init__(self) -> None:
        super().__init__("send on closed channel")


class Waiter:
    """One coroutine waiting on one or more channel cases (a ``select``)."""

    __slots__ = ("fired", "resume")

    def __init__(self, resume: Resume) -> None:
        self.fired = False
        self.resume = resume

    def fire(self, index: int, value: Any, ok: bool) -> None:
        self.fired = True
        self.resume(index, value, ok)


class Channel:
    """A channel of ``size`` buffered values (0: unbuffered)."""

    __slots__ = (
        "__weakref__",
        "_buffer",
        "_receivers",
        "_senders",
        "closed",
        "external",
        "on_take",
        "on_waiting",
        "size",
    )

    def __init__(self, size: int = 0, *, external: bool = False) -> None:
        if not isinstance(size, int) or size < 0:
            raise ValueError(f"channel size must be a non-negative integer, got {size!r}")
        self.size = size
        self.closed = False
        self.external = external
        """Fed from outside the process (messages, timers): waiting on it is not a deadlock."""
        self.on_waiting: Callable[[], None] | None = None
        """Called when a receiver starts waiting (the router uses it to flush its mailbox)."""
        self.on_take: Callable[[], None] | None = None
        """Called when a buffered value is taken (room for the next pending message)."""
        self._buffer: deque[Any] = deque()
        self._receivers: deque[tuple[Waiter, int]] = deque()
        self._senders: deque[tuple[Waiter, int, Any]] = deque()

    def __len__(self) -> int:
        return len(self._buffer)

    def held(self) -> list[Any]:
        """The values the channel keeps: buffered, and offered by senders waiting (limits: what a
        program reaches through it, when its Lua state runs short of memory)."""
        return [*self._buffer, *(value for _waiter, _index, value in self._senders)]

    # -- the coroutine API (``await`` these inside a coroutine process) ----------------

    def receive(self) -> Awaitable[tuple[Any, bool]]:
        """``value, ok = await ch.receive()``; ``ok`` is False once closed and drained."""
        return _Operation((RECV, self))

    def send(self, value: Any) -> Awaitable[bool]:
        """``await ch.send(value)``; raises :class:`ChannelClosed` on a closed channel."""
        return _Operation((SEND, self, value))

    def case_receive(self) -> tuple[Channel, bool, Any]:
        """A receive case for :func:`select`."""
        return (self, False, None)

    def case_send(self, value: Any) -> tuple[Channel, bool, Any]:
        """A send case for :func:`select`."""
        return (self, True, value)

    # -- non-blocking attempts ---------------------------------------------------

    def try_receive(self) -> tuple[Any, bool] | None:
        """``(value, ok)`` if a receive completes now, else ``None``."""
        if self._buffer:
            value = self._buffer.popleft()
            if self.on_take is not None:
                self.on_take()
            self._refill_from_sender()
            return value, True
        sender = self._next_sender()
        if sender is not None:
            waiter, index, value = sender
            waiter.fire(index, value, True)
            return value, True
        if self.closed:
            return None, False
        return None

    def try_send(self, value: Any) -> bool:
        """True if a send completes now; raises :class:`ChannelClosed` on a closed channel."""
        if self.closed:
            raise ChannelClosed()
        receiver = self._next_receiver()
        if receiver is not None:
            waiter, index = receiver
            waiter.fire(index, value, True)
            return True
        if len(self._buffer) < self.size:
            self._buffer.append(value)
            return True
        return False

    def offer(self, value: Any) -> bool:
        """Deliver from outside without ever blocking (mailbox routing); False if no room."""
        if self.closed:
            return False
        return self.try_send(value)

    # -- waiting ----------------------------------------------------------------------

    def wait_receive(self, waiter: Waiter, index: int) -> None:
        self._receivers.append((waiter, index))
        if self.on_waiting is not None:
            self.on_waiting()

    def wait_send(self, waiter: Waiter, index: int, value: Any) -> None:
        self._senders.append((waiter, index, value))

    def withdraw(self, waiter: Waiter) -> None:
        """Remove a fired or abandoned waiter's entries (keeps the queues short)."""
        if self._receivers:
            self._receivers = deque(entry for entry in self._receivers if entry[0] is not waiter)
        if self._senders:
            self._senders = deque(entry for entry in self._senders if entry[0] is not waiter)

    def close(self) -> None:
        """Close: receivers waiting get ``(None, False)``, senders waiting get ``ChannelClosed``."""
        if self.closed:
            return
        self.closed = True
        receivers, self._receivers = self._receivers, deque()
        for waiter, index in receivers:
            if not waiter.fired:
                waiter.fire(index, None, False)
        senders, self._senders = self._senders, deque()
        for waiter, index, _value in senders:
            if not waiter.fired:
                waiter.fire(index, ChannelClosed(), False)

    # -- internals ----------------------------------------------------------------------

    def _next_receiver(self) -> tuple[Waiter, int] | None:
        receivers = self._receivers
        while receivers:
            entry = receivers.popleft()
            if not entry[0].fired:
                return entry
        return None

    def _next_sender(self) -> tuple[Waiter, int, Any] | None:
        senders = self._senders
        while senders:
            entry = senders.popleft()
            if not entry[0].fired:
                return entry
        return None

    def _refill_from_sender(self) -> None:
        if len(self._buffer) < self.size:
            sender = self._next_sender()
            if sender is not None:
                waiter, index, value = sender
                self._buffer.append(value)
                waiter.fire(index, value, True)

    def __repr__(self) -> str:
        state = "closed" if self.closed else "open"
        return f"<Channel size={self.size} buffered={len(self._buffer)} {state}>"


class _Operation:
    """An awaitable that hands one operation to the scheduler and returns its result."""

    __slots__ = ("op",)

    def __init__(self, op: tuple[Any, ...]) -> None:
        self.op = op

    def __await__(self) -> Generator[tuple[Any, ...], Any, Any]:
        return (yield self.op)


def select(*cases: tuple[Channel, bool, Any], default: bool = False) -> Awaitable[tuple[int, Any, bool]]:
    """``index, value, ok = await select(a.case_receive(), b.case_send(x))``.

    The first ready case in argument order wins; with ``default=True`` and no
    ready case the result is ``(-1, None, True)`` at once.
    """
    return _Operation((SELECT, list(cases), default))


def ready_case(cases: list[tuple[Channel, bool, Any]]) -> tuple[int, Any, bool] | None:
    """The first case of a ``select`` that completes now: ``(index, value, ok)``.

    ``cases`` holds ``(channel, is_send, value)``.  A send case on a closed
    channel raises :class:`ChannelClosed`, as a plain send would.
    """
    for index, (channel, is_send, value) in enumerate(cases):
        if is_send:
            if channel.try_send(value):
                return index, value, True
        else:
            received = channel.try_receive()
            if received is not None:
                return index, received[0], received[1]
    return None
