"""What a process receives: messages and the three kinds of system events.

``Exit``     a process this one monitors has ended (every kind of exit).
``LinkDown`` a linked process ended with an error and this one traps links.
``Cancel``   somebody asks this process to finish (maybe with a deadline).

The ``kind`` strings are the Lua API's ``process.event`` constants.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from actors import codec
from actors.errors import Error
from actors.pid import PID

__all__ = ["CANCEL", "EXIT", "LINK_DOWN", "Cancel", "Event", "Exit", "LinkDown", "Message"]

EXIT = "pid.exit"
LINK_DOWN = "pid.link.down"
CANCEL = "pid.cancel"


@dataclass(frozen=True, slots=True)
class Exit:
    """A monitored process ended; ``error`` is ``None`` for a normal exit."""

    pid: PID
    value: Any = None
    error: Error | None = None
    at: float = 0.0
    kind: str = field(default=EXIT, init=False)

    @property
    def result(self) -> tuple[Any, Error | None]:
        return (self.value, self.error)


@dataclass(frozen=True, slots=True)
class LinkDown:
    """A linked process ended with ``error``; seen only by processes trapping links."""

    pid: PID
    error: Error | None
    value: Any = None
    at: float = 0.0
    kind: str = field(default=LINK_DOWN, init=False)

    @property
    def result(self) -> tuple[Any, Error | None]:
        return (self.value, self.error)


@dataclass(frozen=True, slots=True)
class Cancel:
    """A request to finish; ``deadline`` is seconds until forced termination, if any."""

    sender: PID | None
    reason: str = ""
    deadline: float | None = None
    at: float = 0.0
    kind: str = field(default=CANCEL, init=False)


Event = Exit | LinkDown | Cancel


class Message:
    """A message taken from a mailbox: topic, sender and payloads.

    Payloads are decoded on first access, in the receiver, so every receiver
    has its own copy.  ``payload`` is ``None`` for no payload, the value for
    one, a list for several (the Lua rule).
    """

    __slots__ = ("_decoded", "_raw", "sender", "topic")

    def __init__(self, topic: str, sender: PID | None, raw_payloads: tuple[Any, ...]) -> None:
        self.topic = topic
        self.sender = sender
        self._raw = raw_payloads
        self._decoded: tuple[Any, ...] | None = None

    @property
    def payloads(self) -> tuple[Any, ...]:
        """Every payload value, decoded."""
        if self._decoded is None:
            self._decoded = tuple(codec.decode(p) for p in self._raw)
        return self._decoded

    @property
    def payload(self) -> Any:
        """``None``, the single payload, or a list of payloads."""
        values = self.payloads
        if not values:
            return None
        if len(values) == 1:
            return values[0]
        return list(values)

    def __repr__(self) -> str:
        return f"Message(topic={self.topic!r}, sender={self.sender}, payload={self.payload!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Message):
            return NotImplemented
        return (self.topic, self.sender, self.payloads) == (other.topic, other.sender, other.payloads)

    __hash__ = None  # type: ignore[assignment]
