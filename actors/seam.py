"""The one seam every host implements, and the request a spawn carries.

A *host* owns processes.  The node routes every call by the PID's host part
(or, for a PID with a node part, to the *peer* registered for that node), so
callers never know which kind of host they talk to:

* :class:`actors.host.ProcessHost` runs Python actors and Lua processes on a
  small pool of worker threads;
* ``temporal_bridge.WorkflowHost`` runs durable Lua workflows on Temporal, and
  ``temporal_bridge.TemporalPeer`` carries what is sent to them.

:class:`Host` is the whole contract: the node calls nothing else on a host,
and only a host knows what kind of process it runs.  Links, monitors, exits,
cancel and terminate are all *signals* (:mod:`actors.signals`) handed to
:meth:`Host.deliver`, so a host needs no separate method for each; a host
that is not a process host translates them (a message to a workflow becomes
a Temporal signal, a monitor a watcher of its close).
"""

from __future__ import annotations

import abc
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from actors import errors
from actors.pid import PID
from actors.signals import Item

if TYPE_CHECKING:
    from actors._process import Behaviour, Process

__all__ = ["Behaviours", "EntryLookup", "ExitCallback", "Host", "SpawnRequest", "StartMessage"]

ExitCallback = Callable[[Any, errors.Error | None], None]
"""``callback(value, error)``: how a process ended (``error`` is ``None`` for a normal exit)."""


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
    on_exit: ExitCallback | None = None
    """``on_exit(value, error)``, installed before the first step: a wait that cannot miss the end."""
    on_started: Callable[[PID], None] | None = None
    """``on_started(pid)``, called once the process's first step ended with it alive: its
    initialisation is done (an actor's ``on_start``, a Lua program up to its first wait).
    A process that dies in that step never calls it (its EXIT says why): what a
    supervisor waits for to start its children one after the other, as OTP's do."""


class Host(abc.ABC):
    """What the node needs from a host (or a peer).  Subclass it; the defaults suit
    a host that runs nothing in this OS process."""

    id: str
    """The host's entry ID (``app:processes``), or a peer's node name."""

    in_memory: bool = False
    """True when ``spawn`` and ``deliver`` only touch memory (never wait on I/O): a Lua
    process then does them without leaving its Lua state (see ``LuaCore.immediate``)."""

    names_are_local: bool = True
    """True when a spawn's ``name`` lives in the node's names (spawn-or-signal looks
    there first); False when the host keeps names itself (a workflow ID)."""

    def spawn(self, request: SpawnRequest) -> PID:
        """Start a process; link/monitor to ``request.parent`` before its first step."""
        raise errors.Error(errors.INVALID, f"host {self.id} cannot spawn processes")

    @abc.abstractmethod
    def deliver(self, pid: PID, item: Item) -> bool:
        """Hand a message or signal to ``pid``; False when it does not exist (any more)."""

    def deliver_if_alive(self, pid: PID, item: Item) -> bool:
        """Deliver a link or monitor request only to a live ``pid``; False (nothing sent) otherwise.

        The default suits a host whose ``is_alive`` cannot say no (a remote peer):
        it delivers, and the host answers the request when the process ends.
        """
        return self.deliver(pid, item)

    @abc.abstractmethod
    def is_alive(self, pid: PID) -> bool:
        """True while ``pid`` can still receive."""

    @abc.abstractmethod
    def watch(self, pid: PID, callback: ExitCallback) -> None:
        """Call ``callback(value, error)`` once ``pid`` ends (``exec`` and ``funcs.call``)."""

    def wait(self, pid: PID, timeout: float | None = None) -> tuple[Any, errors.Error | None]:
        """Block the calling thread until ``pid`` ends: its ``(value, error)``; ``TIMEOUT`` error."""
        done = threading.Event()
        outcome: list[tuple[Any, errors.Error | None]] = []

        def ended(value: Any, error: errors.Error | None) -> None:
            outcome.append((value, error))
            done.set()

        self.watch(pid, ended)
        if not done.wait(timeout):
            raise errors.Error(errors.TIMEOUT, f"process {pid} still running after {timeout} s")
        return outcome[0]

    def process(self, pid: PID) -> Process | None:
        """The process object behind ``pid`` when it runs in this OS process (else ``None``)."""
        return None

    def count(self) -> int:
        """How many live processes this host runs in this OS process."""
        return 0

    def start(self) -> None:  # noqa: B027 - optional: nothing to start by default
        """Begin serving (start threads, connect)."""

    def stop(self, timeout: float = 10.0) -> None:  # noqa: B027 - optional: nothing to stop by default
        """Cancel every process, wait up to ``timeout`` seconds, then kill the rest."""


class EntryLookup(Protocol):
    """What spawning an entry ID needs from the entry registry (:class:`actors.entries.Registry`)."""

    def get(self, entry_id: str) -> Any: ...


class Behaviours(Protocol):
    """What turns a spawn request into a process behaviour (:class:`actors.kinds.Kinds`)."""

    entries: EntryLookup | None

    def make_behaviour(self, request: SpawnRequest, process: Process) -> tuple[Behaviour, str, bool]:
        """``(behaviour, entry_id, wants_a_dedicated_thread)`` for ``request``."""
        ...
