"""Distributed locks: at most one holder cluster-wide, released when it dies or its node leaves.

A lock is a binding of the cluster's key-value bucket, taken with ``create``
(first writer wins), exactly as a consistent name is, under its own prefix
(Wippy keeps them at ``_sys:lock:<name>``).  ``acquire`` never blocks: a lock
that is held answers ``False`` at once and the caller retries as it sees fit.
A holder that exits releases it before its EXIT goes out; a holder's node
that is declared down releases it within the failure timeout (an acquirer
that finds the lock held by a process of a node known to be down takes it
over at once).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from actors import errors
from actors.names import Completion
from actors.pid import PID
from cluster.names import _caller_pid, _check_name

if TYPE_CHECKING:
    from cluster._core import Cluster

__all__ = ["MAX_LOCKS", "Locks"]

MAX_LOCKS = 10_000
"""The most locks the processes of one node hold at once (an acquire beyond is ``LIMIT_EXCEEDED``)."""


class Locks:
    """``cluster.locks``: ``acquire``, ``release``, ``holder``."""

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster

    def acquire(self, name: str, pid: PID | str | None = None) -> bool:
        """Take lock ``name`` for ``pid`` (default: the calling process); False when it is held.

        Held means held by anybody, the caller included (locks do not nest).
        Errors: ``INVALID`` (bad name, no process), ``NOT_FOUND`` (``pid`` is
        not alive), ``UNAVAILABLE``/``TIMEOUT`` (NATS did not answer).
        """
        _check_name(name)
        owner = self.cluster.names._owner(pid)
        return bool(self.cluster.run(self._acquire(name, owner)))

    def acquire_later(self, name: str, pid: PID, done: Completion) -> None:
        """:meth:`acquire` for a process on this node, without holding its thread:
        ``done(True | False, None)`` or ``done(None, error)`` from the cluster's loop."""
        try:
            _check_name(name)
            if self.cluster.names._local_process(pid) is None:
                raise errors.Error(errors.NOT_FOUND, f"process {pid} not found")
            self.cluster.names._later(self._acquire(name, pid), done)
        except errors.Error as err:
            done(None, err)

    def release_later(self, name: str, pid: PID, done: Completion) -> None:
        """:meth:`release` the same way: ``done(released, None)`` or ``done(None, error)``."""
        try:
            _check_name(name)
            self.cluster.names._later(self.cluster.names.delete("l", name, pid), done)
        except errors.Error as err:
            done(None, err)

    async def _acquire(self, name: str, owner: PID) -> bool:
        held_here = sum(
            1 for b in list(self.cluster.names.tables["l"].values()) if b.node == self.cluster.name
        )
        if held_here >= MAX_LOCKS:
            raise errors.Error(
                errors.LIMIT_EXCEEDED, f"this node's processes hold {held_here} locks (MAX_LOCKS)"
            )
        try:
            await self.cluster.names.create("l", name, owner, reentrant=False)
        except errors.Error as err:
            if err.kind() == errors.ALREADY_EXISTS:
                return False
            raise
        return True

    def release(self, name: str, pid: PID | str | None = None) -> bool:
        """Release lock ``name`` held by ``pid`` (default: the calling process).

        True when it was released; False when it is not held, or held by
        another process (nothing happens then).
        """
        _check_name(name)
        owner = PID.coerce(pid) if pid is not None else _caller_pid()
        if owner is None:
            raise errors.Error(errors.INVALID, "release needs a PID outside a process")
        return bool(self.cluster.run(self.cluster.names.delete("l", name, owner)))

    def holder(self, name: str) -> PID | None:
        """The PID holding lock ``name`` as this node sees it (a local read), or None."""
        return self.cluster.names.bindings("lock").get(name)
