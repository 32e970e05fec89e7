"""What reaches a supervisor's mailbox besides events, and the one way to ask it something.

A request is a :class:`Call` sent with pykka's ``ask``: the supervisor's
``on_receive`` returns the answer or raises the error, and a request that
reaches a supervisor which has ended is answered by the actor runtime
(``ActorDeadError``), so no caller waits for nothing.  An answer that comes
later (``terminate_child`` answers when the child's EXIT arrives) is a
:class:`Later`: the caller then waits on it too; a supervisor that ends with
answers still owed fails them.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import pykka
from pykka import ThreadingFuture

from actors import PID, Error, Node, errors

__all__ = ["Call", "Later", "RestartDue", "Started", "ask", "tell"]


@dataclass
class Call:
    """A request ``op(*args)`` to a supervisor."""

    op: str
    args: tuple[Any, ...]


@dataclass(eq=False)
class Later:
    """An answer the supervisor gives later, exactly once."""

    future: ThreadingFuture[Any] = field(default_factory=ThreadingFuture)

    def answer(self, value: Any = None) -> None:
        self.future.set(value)

    def fail(self, error: Error) -> None:
        self.future.set_exception(exc_info=(Error, error, None))


@dataclass
class Started:
    """A child's first step is over (its ``on_started``): what needs it may start."""

    pid: PID


@dataclass
class RestartDue:
    """A restart delay (backoff) is over: restart the children of the group still waiting."""

    key: int
    group: tuple[str, ...]


def ask(node: Node, pid: PID, op: str, *args: Any, timeout: float | None = 30.0) -> Any:
    """Ask the supervisor ``pid`` for ``op(*args)`` and wait for its answer (or raise its error).

    From a thread outside the pool; ``NOT_FOUND`` when the supervisor is not
    running or ends before answering, ``TIMEOUT`` after ``timeout`` seconds.
    """
    deadline = None if timeout is None else time.monotonic() + timeout
    gone = Error(errors.NOT_FOUND, f"supervisor {pid} is not running")
    try:
        ref = node.actor_ref(pid)
    except Error:
        raise gone from None
    try:
        answer = ref.ask(Call(op, args), block=False).get(timeout=timeout)
        if isinstance(answer, Later):
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            answer = answer.future.get(timeout=left)
    except pykka.ActorDeadError:
        raise gone from None
    except pykka.Timeout:
        raise Error(errors.TIMEOUT, f"supervisor {pid} did not answer {op} in {timeout} s") from None
    return answer


def tell(ref: Any, message: Any) -> None:
    """``ref.tell(message)``, unless the supervisor is gone (and with it the reason to tell)."""
    try:
        ref.tell(message)
    except pykka.ActorDeadError:
        pass
