"""The one seam every host implements, and the request a spawn carries.

A *host* owns processes.  The node routes every call by the PID's host part,
so callers never know which kind of host they talk to:

* :class:`actors.host.ProcessHost` runs Python actors and Lua processes on a
  small pool of worker threads;
* ``temporal_bridge.WorkflowHost`` runs durable Lua workflows on Temporal.

Links, monitors, exits, cancel and terminate are all *signals* handed to
:meth:`Host.deliver`, so a host needs no separate method for each.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from actors.pid import PID

__all__ = ["Host", "SpawnRequest", "StartMessage"]


@dataclass(frozen=True, slots=True)
class StartMessage:
    """A message queued with ``with_message``: delivered before ``spawn`` returns."""

    topic: str
    payloads: tuple[Any, ...] = ()


@dataclass(slots=True)
class SpawnRequest:
    """Everything a host needs to start one process."""

    target: Any
    """An entry ID, an :class:`~actors.Actor` subclass, or a coroutine function."""
    args: tuple[Any, ...] = ()
    parent: PID | None = None
    link: bool = False
    monitor: bool = False
    name: str | None = None
    context: dict[str, Any] | None = None
    """Values the process can read with ``ctx`` (inherited from the spawner)."""
    options: dict[str, Any] | None = None
    """Host-specific options (``temporal.workflow.*`` for workflow hosts)."""
    messages: tuple[StartMessage, ...] = ()
    kwargs: dict[str, Any] | None = None
    thread: bool | None = None
    """Ask for a dedicated OS thread (``None``: the target decides)."""
    on_exit: Any = None
    """``on_exit(value, error)``, installed before the first step: a wait that cannot miss the end."""
    on_started: Any = None
    """``on_started(pid)``, called once the process's first step ended with it alive: its
    initialisation is done (an actor's ``on_start``, a Lua program up to its first wait).
    A process that dies in that step never calls it (its EXIT says why): what a
    supervisor waits for to start its children one after the other, as OTP's do."""


@runtime_checkable
class Host(Protocol):
    """What the node needs from a host."""

    id: str

    in_memory: bool
    """True when ``spawn`` and ``deliver`` only touch memory (never wait on I/O): a Lua
    process then does them without leaving its Lua state (see ``LuaCore.immediate``).
    A host without the attribute counts as False."""

    def spawn(self, request: SpawnRequest) -> PID:
        """Start a process; link/monitor to ``request.parent`` before its first step."""
        ...

    def deliver(self, pid: PID, item: tuple[Any, ...]) -> bool:
        """Hand a message or signal to ``pid``; False when it does not exist (any more)."""
        ...

    def watch(self, pid: PID, callback: Any) -> None:
        """Call ``callback(value, error)`` once ``pid`` ends (``exec`` and ``funcs.call``)."""
        ...

    def is_alive(self, pid: PID) -> bool:
        """True while ``pid`` can still receive."""
        ...

    def start(self) -> None:
        """Begin serving (start threads, connect)."""
        ...

    def stop(self, timeout: float) -> None:
        """Cancel every process, wait up to ``timeout`` seconds, then kill the rest."""
        ...
