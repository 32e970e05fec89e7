"""Operations a process performs on others: link, unlink, monitor, unmonitor.

They run in the caller's own context (its actor code, its Lua step, or the
thread that owns a probe) and change only the caller's state directly; the
other side learns of it through a signal in its mailbox.  That is what makes
the guarantees hold without locks on process state:

* ``monitor``/``link`` of a PID that is not alive fail at once (``NOT_FOUND``);
  if the target dies while the request is in flight, its mailbox answers the
  request with an EXIT or LINK_DOWN (no death is missed);
* after ``unmonitor``/``unlink`` nothing more is delivered: the caller forgets
  the relation first, and a notification already on its way is dropped on
  arrival because the relation is gone.
"""

from __future__ import annotations

from actors import errors
from actors._process import Process
from actors.pid import PID
from actors.signals import Signal

__all__ = ["link", "monitor", "set_trap_links", "unlink", "unmonitor"]


def link(caller: Process, dest: PID | str) -> None:
    """Link ``caller`` and ``dest`` both ways (idempotent)."""
    pid = caller.node.resolve(dest)
    if pid == caller.pid:
        raise errors.Error(errors.INVALID, "a process cannot link to itself")
    if caller.links is not None and pid in caller.links:
        return
    if caller.links is None:
        caller.links = set()
    caller.links.add(pid)
    if not caller.node.deliver_if_alive(pid, (Signal.LINK, caller.pid)):
        caller.links.discard(pid)
        raise errors.Error(errors.NOT_FOUND, f"pid not registered: {pid} is not alive")


def unlink(caller: Process, dest: PID | str) -> None:
    """Remove the link both ways; no-op when there is none."""
    pid = caller.node.resolve(dest)
    if caller.links is None or pid not in caller.links:
        return
    caller.links.discard(pid)
    caller.node.deliver(pid, (Signal.UNLINK, caller.pid))


def monitor(caller: Process, dest: PID | str) -> None:
    """Watch ``dest``: ``caller`` gets one EXIT event when it ends."""
    pid = caller.node.resolve(dest)
    if pid == caller.pid:
        raise errors.Error(errors.INVALID, "a process cannot monitor itself")
    if caller.monitoring is not None and pid in caller.monitoring:
        raise errors.Error(errors.ALREADY_EXISTS, f"already monitoring pid {pid}")
    if caller.monitoring is None:
        caller.monitoring = set()
    caller.monitoring.add(pid)
    if not caller.node.deliver_if_alive(pid, (Signal.MONITOR, caller.pid)):
        caller.monitoring.discard(pid)
        raise errors.Error(errors.NOT_FOUND, f"pid not registered: {pid} is not alive")


def unmonitor(caller: Process, dest: PID | str) -> None:
    """Stop watching ``dest``; no EXIT is delivered afterwards.  No-op when not watching."""
    pid = caller.node.resolve(dest)
    if caller.monitoring is None or pid not in caller.monitoring:
        return
    caller.monitoring.discard(pid)
    caller.node.deliver(pid, (Signal.DEMONITOR, caller.pid))


def set_trap_links(caller: Process, trap: bool) -> None:
    """Turn LINK_DOWN into an event (True) or into this process's death (False)."""
    if not isinstance(trap, bool):
        raise errors.Error(errors.INVALID, "trap_links must be a boolean")
    caller.trap_links = trap
