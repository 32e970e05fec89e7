"""The node's names: ``register(name, pid)`` and the lookups (``process.registry`` in Lua).

A name is usable wherever a PID is accepted.  A name belongs to one PID;
registering it again for the same PID is a no-op, for another PID an
``ALREADY_EXISTS`` error.  Names of a process are released
when it exits, *before* its EXIT and LINK_DOWN notifications go out, so a
watcher reacting to the EXIT can register the name again at once.
"""

from __future__ import annotations

import threading
from typing import Any, Protocol

from actors import errors
from actors.pid import PID

__all__ = ["Names"]


class _Ended(Protocol):
    result: Any
    """Set (not ``None``) once the process has ended."""


class Names:
    """Thread-safe mapping of names to PIDs, released when the process exits.

    ("Registry" is the YAML entry registry, :class:`actors.entries.Registry`.)
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._names: dict[str, PID] = {}
        self._by_pid: dict[PID, set[str]] = {}

    def register(self, name: str, pid: PID, process: _Ended | None = None) -> bool:
        """Bind ``name`` to ``pid``; True, or an ``Error`` (INVALID, ALREADY_EXISTS, NOT_FOUND)."""
        if not isinstance(name, str) or not name:
            raise errors.Error(errors.INVALID, "name must be a non-empty string")
        if name.startswith("{") and name.endswith("}"):
            raise errors.Error(errors.INVALID, f"name {name!r} looks like a PID")
        with self._lock:
            current = self._names.get(name)
            if current == pid:
                return True
            if current is not None:
                raise errors.Error(
                    errors.ALREADY_EXISTS,
                    f"name {name!r} is already registered to {current}",
                    details={"name": name, "pid": str(current)},
                )
            if process is not None and process.result is not None:
                raise errors.Error(errors.NOT_FOUND, f"process {pid} has exited")
            self._names[name] = pid
            self._by_pid.setdefault(pid, set()).add(name)
        return True

    def lookup(self, name: str) -> PID:
        """The PID registered under ``name``; ``NOT_FOUND`` error otherwise."""
        pid = self._names.get(name)
        if pid is None:
            raise errors.Error(errors.NOT_FOUND, f"name {name!r} not registered")
        return pid

    def whereis(self, name: str) -> PID | None:
        """The PID registered under ``name``, or ``None``."""
        return self._names.get(name)

    def unregister(self, name: str) -> bool:
        """Remove ``name``; True if it was registered."""
        with self._lock:
            pid = self._names.pop(name, None)
            if pid is None:
                return False
            names = self._by_pid.get(pid)
            if names is not None:
                names.discard(name)
                if not names:
                    del self._by_pid[pid]
        return True

    def release_all(self, pid: PID) -> None:
        """Drop every name of ``pid`` (called when it exits)."""
        with self._lock:
            for name in self._by_pid.pop(pid, ()):
                if self._names.get(name) == pid:
                    del self._names[name]

    def items(self) -> list[tuple[str, PID]]:
        """Every name and its PID, sorted by name (what ``actorflow ps`` shows)."""
        with self._lock:
            return sorted(self._names.items())
