"""The node's names: ``register(name, pid)`` and the lookups (``process.registry`` in Lua).

A name is usable wherever a PID is accepted.  A name belongs to one PID;
registering it again for the same PID is a no-op, for another PID an
``ALREADY_EXISTS`` error.  Names of a process are released
when it exits, *before* its EXIT and LINK_DOWN notifications go out, so a
watcher reacting to the EXIT can register the name again at once.

Names have Wippy's *scopes* (:data:`SCOPES`: ``local``, ``eventual``,
``consistent``, ``strong``; Lua's ``process.registry.LOCAL`` … ``STRONG`` are
their numbers 0 to 3).  A node on its own has only its local names and
treats every scope as local; a node in a cluster replaces its names with the
cluster's (``cluster.ClusterNames``), where the other scopes are cluster-wide
and a registration in ``consistent`` or ``strong`` is a round trip to the
cluster (:meth:`Names.waits`): a process waits for it without holding its
thread (:meth:`Names.register_later`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, Protocol

from actors import errors
from actors.pid import PID

__all__ = ["CONSISTENT", "EVENTUAL", "LOCAL", "SCOPES", "STRONG", "Names", "scope_name"]

LOCAL = "local"
EVENTUAL = "eventual"
CONSISTENT = "consistent"
STRONG = "strong"
SCOPES = (LOCAL, EVENTUAL, CONSISTENT, STRONG)
"""The scopes, cheapest first; a scope's index is its number in Lua (``process.registry.LOCAL`` is 0)."""


def scope_name(scope: str | int | None) -> str:
    """``scope`` as one of :data:`SCOPES`: given by name, by its number (Lua's constants), or
    ``None`` for local; ``INVALID`` for anything else."""
    if scope is None:
        return LOCAL
    if isinstance(scope, str) and scope in SCOPES:
        return scope
    if isinstance(scope, float) and scope.is_integer():
        scope = int(scope)
    if isinstance(scope, int) and not isinstance(scope, bool) and 0 <= scope < len(SCOPES):
        return SCOPES[scope]
    raise errors.Error(
        errors.INVALID,
        f"unknown name scope {scope!r}: expected LOCAL (0), EVENTUAL (1), CONSISTENT (2) or STRONG (3)",
    )


Completion = Callable[[Any, "errors.Error | None"], None]
"""``done(value, error)``: a registration that completed (from any thread)."""


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
        """Every local name and its PID, sorted by name."""
        with self._lock:
            return sorted(self._names.items())

    # -- scopes ----------------------------------------------------------------------------------

    def waits(self, scope: str) -> bool:
        """True when registering in ``scope`` is a round trip to other nodes (never on one node)."""
        return False

    def register_scoped(self, name: str, pid: PID, process: _Ended | None = None, scope: str = LOCAL) -> bool:
        """Bind ``name`` to ``pid`` in ``scope``; on a node of its own every scope is local."""
        scope_name(scope)
        return self.register(name, pid, process)

    def unregister_scoped(self, name: str, scope: str = LOCAL, owner: PID | None = None) -> bool:
        """Remove ``name`` from ``scope``; True if it was there (``owner``: only if it held it,
        for the cluster scopes; a local name goes whoever asks, as before)."""
        scope_name(scope)
        return self.unregister(name)

    def register_later(
        self, name: str, pid: PID, process: _Ended | None, scope: str, done: Completion
    ) -> None:
        """:meth:`register_scoped` without holding the caller's thread when it :meth:`waits`:
        ``done(True, None)`` or ``done(None, error)`` once it is through (maybe on another thread)."""
        try:
            value = self.register_scoped(name, pid, process, scope)
        except errors.Error as err:
            done(None, err)
            return
        done(value, None)

    def unregister_later(self, name: str, scope: str, owner: PID | None, done: Completion) -> None:
        """:meth:`unregister_scoped` the same way: ``done(removed, None)`` or ``done(None, error)``."""
        try:
            value = self.unregister_scoped(name, scope, owner)
        except errors.Error as err:
            done(None, err)
            return
        done(value, None)

    def scoped_items(self) -> list[tuple[str, PID, str]]:
        """Every name this node resolves, its PID and its scope, sorted (what ``actorflow ps`` shows)."""
        return [(name, pid, LOCAL) for name, pid in self.items()]
