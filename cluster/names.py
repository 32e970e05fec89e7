"""Names with Wippy's scopes, on a JetStream key-value bucket.

=============  ==============  ===============================================
scope          visibility      guarantee
=============  ==============  ===============================================
``local``      this node       the node's names: instant, released on exit
``eventual``   every node      registered at once here, replicated after;
                               the last writer wins and the process it
                               displaced gets a CANCEL ``name revoked: <name>``
``consistent`` every node      first writer wins (key-value ``create``, a
                               compare-and-set): a second registration to
                               another PID fails with ``ALREADY_EXISTS``
``strong``     every node      consistent, and the registration returns only
                               once every live node resolves the name (else
                               it is withdrawn: ``TIMEOUT`` naming the nodes)
=============  ==============  ===============================================

Cluster-wide names are released when their process exits (before its EXIT
and LINK_DOWN go out, as local names are) and when its node leaves or is
declared down.  Reads are local: every node keeps the bucket's bindings in
memory through a watch, so resolving a name never waits on the network, and
may lag a registration made elsewhere by a few milliseconds.  Resolution
order, as in Wippy: consistent, then eventual, then local, so a cluster-wide
name shadows a local one with the same text.

:class:`ClusterNames` replaces the node's names (``node.names``) when it joins, so every
call that takes a name (``send``, ``link``, ``monitor``, ``terminate``…)
resolves cluster-wide names, and a process's exit releases them.  Locks
(:mod:`cluster.locks`) are bindings of the same kind under their own prefix.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import nats.js.errors

from actors import codec, current_process, errors
from actors.names import CONSISTENT, EVENTUAL, LOCAL, SCOPES, STRONG, Completion, Names, scope_name
from actors.pid import PID
from actors.signals import Signal

if TYPE_CHECKING:
    from cluster._core import Cluster
    from cluster._member import Member

__all__ = ["CONSISTENT", "EVENTUAL", "LOCAL", "SCOPES", "STRONG", "Binding", "ClusterNames"]

logger = logging.getLogger("cluster.names")

_PREFIX = {CONSISTENT: "c", STRONG: "c", EVENTUAL: "e", "lock": "l"}
"""Strong names are consistent names (one plane, one first writer) whose value says strong."""
_RELEASE_TIMEOUT = 5.0
STRONG_DEADLINE = 5.0
"""Seconds every live node has to acknowledge a strong name before it is withdrawn."""


@dataclass(frozen=True, slots=True)
class Binding:
    """A name (or lock) held by ``pid``, which lives on ``node`` in its ``incarnation``."""

    pid: PID
    node: str
    incarnation: int
    revision: int
    seen: float = 0.0
    """When this node learned of it (monotonic): the sweep spares young bindings."""
    strong: bool = False
    """A strong name (every live node acknowledged it)."""


class _Running(Protocol):
    """What the names need of a local process (``node.process(pid)``)."""

    alive: bool
    result: Any


def key_of(prefix: str, name: str) -> str:
    """The bucket key of ``name`` (any text) under ``prefix``."""
    return f"{prefix}.{base64.urlsafe_b64encode(name.encode()).decode().rstrip('=') or '_'}"


def name_of(encoded: str) -> str:
    if encoded == "_":
        return ""
    return base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode()


class ClusterNames(Names):
    """The node's names (``node.names``) once it is in a cluster: local names plus the cluster's."""

    def __init__(self, cluster: Cluster) -> None:
        super().__init__()
        self.cluster = cluster
        self.tables: dict[str, dict[str, Binding]] = {"c": {}, "e": {}, "l": {}}
        self._pending_eventual: dict[str, PID] = {}
        self._owned: dict[PID, set[tuple[str, str]]] = {}
        self._owned_lock = threading.Lock()
        self._watcher: Any = None
        self._watch_task: asyncio.Task[None] | None = None

    # -- resolution ------------------------------------------------------------------------

    def whereis(self, name: str) -> PID | None:
        binding = self.tables["c"].get(name)
        if binding is not None and self._live(binding):
            return binding.pid
        pending = self._pending_eventual.get(name)
        if pending is not None:
            return pending
        binding = self.tables["e"].get(name)
        if binding is not None and self._live(binding):
            return binding.pid
        return super().whereis(name)

    def lookup(self, name: str) -> PID:
        pid = self.whereis(name)
        if pid is None:
            raise errors.Error(errors.NOT_FOUND, f"name {name!r} not registered")
        return pid

    def _live(self, binding: Binding) -> bool:
        return self.cluster.is_live(binding.node, binding.incarnation)

    # -- registration ----------------------------------------------------------------------

    def waits(self, scope: str) -> bool:
        """Consistent and strong registrations are a round trip to NATS (and strong, to every node)."""
        return scope in (CONSISTENT, STRONG)

    def register_scoped(self, name: str, pid: PID, process: Any = None, scope: str = LOCAL) -> bool:
        """Register ``name`` for ``pid`` in ``scope``, waiting for the cluster.

        ``True``, or an error: ``INVALID`` (bad name or scope), ``NOT_FOUND``
        (the process is not alive), ``ALREADY_EXISTS`` (a consistent name held by
        another PID; its ``details`` name the holder), ``UNAVAILABLE``/``TIMEOUT``
        (NATS or, for a strong name, a node did not answer).
        """
        scope = scope_name(scope)
        if scope == LOCAL:
            return self.register(name, pid, process)
        _check_name(name)
        self._check_running()
        target = self._owner(pid)
        if scope == EVENTUAL:
            self._register_eventual(name, target)
            return True
        self.cluster.run(self._take(name, target, scope), STRONG_DEADLINE + 10.0)
        return True

    def register_later(self, name: str, pid: PID, process: Any, scope: str, done: Completion) -> None:
        """:meth:`register_scoped` for a process: a consistent or strong name is taken on the
        cluster's loop and ``done(True, None)`` / ``done(None, error)`` called from there."""
        if not self.waits(scope):
            super().register_later(name, pid, process, scope, done)
            return
        try:
            _check_name(name)
            if self._is_local(pid) and self._local_process(pid) is None:
                raise errors.Error(errors.NOT_FOUND, f"process {pid} not found")
            self._later(self._take_checked(name, pid, scope), done)
        except errors.Error as err:
            done(None, err)

    def unregister_scoped(self, name: str, scope: str = LOCAL, owner: PID | None = None) -> bool:
        """Remove ``name`` from ``scope``; False when it is not held (by ``owner``: by default the
        calling process; outside a process, by anybody)."""
        scope = scope_name(scope)
        if scope == LOCAL:
            return self.unregister(name)
        if owner is None:
            owner = _caller_pid()
        if scope == EVENTUAL:
            return self._unregister_eventual(name, owner)
        return bool(self.cluster.run(self.delete("c", name, owner)))

    def unregister_later(self, name: str, scope: str, owner: PID | None, done: Completion) -> None:
        if not self.waits(scope):
            super().unregister_later(name, scope, owner, done)
            return
        try:
            self._later(self.delete("c", name, owner), done)
        except errors.Error as err:
            done(None, err)

    def _check_running(self) -> None:
        cluster = self.cluster
        if cluster.fenced is not None:
            raise errors.Error(errors.UNAVAILABLE, cluster.fenced.message())
        if not cluster.running:
            raise errors.Error(errors.UNAVAILABLE, "this node has left the cluster", retryable=True)

    def _later(self, coro: Any, done: Completion) -> None:
        """Run ``coro`` on the cluster's loop; ``done(value, error)`` when it is through."""
        try:
            self._check_running()
        except errors.Error:
            coro.close()
            raise
        assert self.cluster.loop is not None

        def finished(future: Any) -> None:
            if future.cancelled():
                done(None, errors.Error(errors.CANCELED, "the node left the cluster"))
                return
            exc = future.exception()
            if exc is None:
                done(future.result(), None)
            else:
                done(None, exc if isinstance(exc, errors.Error) else errors.from_exception(exc))

        self.cluster.loop.submit(coro).add_done_callback(finished)

    async def _take_checked(self, name: str, pid: PID, scope: str) -> bool:
        if not self._is_local(pid):
            member = self.cluster.members.get(pid.node)
            alive = member is not None and not member.down
            if alive:
                assert member is not None
                try:
                    alive = bool(await self.cluster.call_async(member, "alive", [pid]))
                except errors.Error:
                    alive = False
            if not alive:
                raise errors.Error(errors.NOT_FOUND, f"process {pid} not found")
        return await self._take(name, pid, scope)

    async def _take(self, name: str, pid: PID, scope: str) -> bool:
        """A consistent name (first writer wins); a strong one, acknowledged by every live node."""
        binding = await self.create("c", name, pid, reentrant=True, strong=scope == STRONG)
        if scope == STRONG:
            await self._acknowledged(name, binding)
        return True

    async def _acknowledged(self, name: str, binding: Binding) -> None:
        """Wait until every live node resolves ``name`` to ``binding``; withdraw it otherwise."""
        members = [member for member in self.cluster.members.values() if not member.down]
        answers = await asyncio.gather(
            *(
                self.cluster.call_async(member, "sees", [name, binding.revision], STRONG_DEADLINE)
                for member in members
            ),
            return_exceptions=True,
        )
        missing = []
        for member, answer in zip(members, answers, strict=True):
            if answer is True:
                continue
            if isinstance(answer, errors.Error) and answer.kind() == "NODE_DOWN":
                continue  # it left meanwhile: not a live node any more
            missing.append(member.name)
        if missing:
            await self._delete_revision(key_of("c", name), binding.revision)
            raise errors.Error(
                errors.TIMEOUT,
                f"strong name {name!r} was not acknowledged by {', '.join(sorted(missing))} "
                f"within {STRONG_DEADLINE:g} s: withdrawn",
                retryable=True,
                details={"name": name, "nodes": sorted(missing)},
            )

    def sees(self, name: str, revision: int, timeout: float = STRONG_DEADLINE - 0.5) -> bool:
        """Asked by the node registering a strong name: True once this node resolves ``name``
        through that binding (its watch may lag a few milliseconds); False if another took it."""
        deadline = time.monotonic() + timeout
        while True:
            binding = self.tables["c"].get(name)
            if binding is not None and binding.revision >= revision:
                return binding.revision == revision
            if time.monotonic() > deadline:
                return False
            time.sleep(0.002)

    def _register_eventual(self, name: str, target: PID) -> None:
        self._pending_eventual[name] = target
        self._own(target, "e", name)
        self.cluster.submit(self._put_eventual(name, target))

    def _unregister_eventual(self, name: str, owner: PID | None) -> bool:
        """Drop an eventual name here at once and delete it from the bucket after (no waiting)."""
        pending = self._pending_eventual.get(name)
        if pending is not None and (owner is None or pending == owner):
            del self._pending_eventual[name]
            owner = pending
        else:
            binding = self.tables["e"].get(name)
            if binding is None or not self._live(binding) or (owner is not None and binding.pid != owner):
                return False
            owner = binding.pid
            del self.tables["e"][name]
        self._disown(owner, "e", name)
        self.cluster.submit(self.delete("e", name, owner))
        return True

    def scoped_items(self) -> list[tuple[str, PID, str]]:
        """Local names, then the cluster's live consistent (or strong) and eventual names."""
        rows = super().scoped_items()
        for prefix, scope in (("c", CONSISTENT), ("e", EVENTUAL)):
            for name, binding in list(self.tables[prefix].items()):
                if self._live(binding):
                    rows.append((name, binding.pid, STRONG if binding.strong else scope))
        return sorted(rows)

    def _owner(self, pid: PID | str | None) -> PID:
        if pid is None:
            caller = _caller_pid()
            if caller is None:
                raise errors.Error(errors.INVALID, "register needs a PID outside a process")
            return caller
        target = self.cluster.node.resolve(pid)
        if self._is_local(target):
            if self._local_process(target) is None:
                raise errors.Error(errors.NOT_FOUND, f"process {target} not found")
        elif not self.cluster.peer.is_alive(target):  # asks its node (down: not alive)
            raise errors.Error(errors.NOT_FOUND, f"process {target} not found")
        return target

    def _is_local(self, pid: PID) -> bool:
        return not pid.node or pid.node == self.cluster.name

    def _local_process(self, pid: PID) -> _Running | None:
        proc = self.cluster.node.process(pid)
        return proc if proc is not None and proc.alive else None

    def _incarnation_of(self, pid: PID) -> int:
        if self._is_local(pid):
            return self.cluster.incarnation
        member = self.cluster.members.get(pid.node)
        return member.incarnation if member is not None else 0

    def _value(self, pid: PID, strong: bool = False) -> bytes:
        node = pid.node or self.cluster.name
        fields: list[Any] = [str(pid), node, self._incarnation_of(pid)]
        if strong:
            fields.append(STRONG)
        return codec.dumps(fields)

    async def create(
        self, prefix: str, name: str, pid: PID, *, reentrant: bool, strong: bool = False
    ) -> Binding:
        """Take ``name`` under ``prefix`` for ``pid``: first writer wins (a key-value ``create``)."""
        key = key_of(prefix, name)
        value = self._value(pid, strong)
        for _ in range(5):
            try:
                revision = await self.cluster.kv.create(key, value)
            except nats.js.errors.KeyWrongLastSequenceError:
                try:
                    entry = await self.cluster.kv.get(key)
                except nats.js.errors.KeyNotFoundError:
                    continue  # released meanwhile
                current = _binding(entry.value, entry.revision)
                if current is None:
                    continue
                if current.pid == pid and reentrant:
                    self._apply(prefix, name, current)
                    return current
                if not self._holder_alive(current):
                    await self._delete_revision(key, current.revision)
                    continue
                raise errors.Error(
                    errors.ALREADY_EXISTS,
                    f"{'lock' if prefix == 'l' else 'name'} {name!r} is already held by {current.pid}",
                    details={"name": name, "pid": str(current.pid)},
                ) from None
            except nats.js.errors.Error as exc:
                raise errors.Error(errors.UNAVAILABLE, f"NATS refused {key}: {exc}", retryable=True) from None
            binding = Binding(
                pid,
                pid.node or self.cluster.name,
                self._incarnation_of(pid),
                revision,
                time.monotonic(),
                strong,
            )
            self._apply(prefix, name, binding)
            if self._is_local(pid) and self._local_process(pid) is None:
                await self._delete_revision(key, revision)  # it ended while we registered
                raise errors.Error(errors.NOT_FOUND, f"process {pid} has exited")
            return binding
        raise errors.Error(errors.CONFLICT, f"{name!r} changed hands too often to be taken", retryable=True)

    async def delete(self, prefix: str, name: str, owner: PID | None) -> bool:
        """Release ``name`` if ``owner`` holds it (any holder when ``owner`` is None)."""
        key = key_of(prefix, name)
        try:
            entry = await self.cluster.kv.get(key)
        except nats.js.errors.KeyNotFoundError:
            return False
        current = _binding(entry.value, entry.revision)
        if current is None or (owner is not None and current.pid != owner):
            return False
        return await self._delete_revision(key, current.revision)

    async def _delete_revision(self, key: str, revision: int) -> bool:
        try:
            await self.cluster.kv.delete(key, last=revision)
        except nats.js.errors.APIError:
            return False  # it changed meanwhile: not ours to delete any more
        prefix, _, encoded = key.partition(".")
        table = self.tables.get(prefix)
        if table is not None:
            name = name_of(encoded)
            current = table.get(name)
            if current is not None and current.revision <= revision:
                del table[name]
                self._disown(current.pid, prefix, name)
        return True

    def _holder_alive(self, binding: Binding) -> bool:
        if not self._live(binding):
            return False
        if binding.node == self.cluster.name:
            return self._local_process(binding.pid) is not None
        return True

    async def _put_eventual(self, name: str, pid: PID) -> None:
        try:
            revision = await self.cluster.kv.put(key_of("e", name), self._value(pid))
        finally:
            if self._pending_eventual.get(name) == pid:
                del self._pending_eventual[name]
        table = self.tables["e"]
        current = table.get(name)
        if current is None or current.revision < revision:
            self._apply(
                "e",
                name,
                Binding(
                    pid, pid.node or self.cluster.name, self._incarnation_of(pid), revision, time.monotonic()
                ),
            )

    # -- ownership and release on exit -------------------------------------------------------

    def _own(self, pid: PID, prefix: str, name: str) -> None:
        if self._is_local(pid):
            with self._owned_lock:
                self._owned.setdefault(pid, set()).add((prefix, name))

    def _disown(self, pid: PID, prefix: str, name: str) -> None:
        with self._owned_lock:
            owned = self._owned.get(pid)
            if owned is not None:
                owned.discard((prefix, name))
                if not owned:
                    del self._owned[pid]

    def release_all(self, pid: PID) -> None:
        """``pid`` exited: its local names, then its cluster names, locks and groups.

        Consistent names and locks are deleted before this returns (so the
        EXIT that follows finds them free everywhere), within a few seconds;
        eventual names are deleted without waiting.
        """
        super().release_all(pid)
        if pid not in self._owned and not self.cluster.groups.has(pid):
            return
        try:
            self.cluster.groups.release(pid)
            self._release_cluster_names(pid)
        except Exception:  # never in the way of the exit protocol
            logger.exception("releasing the cluster names of %s failed", pid)

    def _release_cluster_names(self, pid: PID) -> None:
        with self._owned_lock:
            owned = self._owned.pop(pid, set())
        if not owned or not self.cluster.running:
            return
        waits = []
        for prefix, name in owned:
            if prefix == "e" and self._pending_eventual.get(name) == pid:
                del self._pending_eventual[name]
            coro = self.delete(prefix, name, pid)
            if prefix == "e":
                self.cluster.submit(coro)
            else:
                waits.append(coro)
        if waits:
            try:
                self.cluster.run(_gather(waits), _RELEASE_TIMEOUT)
            except Exception as exc:
                logger.warning("releasing the cluster names of %s failed: %s", pid, exc)

    # -- the watch ------------------------------------------------------------------------------

    async def start(self) -> None:
        """Load every binding, then follow changes."""
        self._watcher = await self.cluster.kv.watchall()
        while True:
            entry = await self._watcher.updates(timeout=10)
            if entry is None:
                break
            self._on_entry(entry)
        self._watch_task = asyncio.get_running_loop().create_task(self._follow())
        self.cluster.on_member_down(self._member_down)
        # Bindings of this node's earlier lives: their processes are gone.
        for prefix, table in self.tables.items():
            for name, binding in list(table.items()):
                if binding.node == self.cluster.name and binding.incarnation != self.cluster.incarnation:
                    await self._delete_revision(key_of(prefix, name), binding.revision)

    async def stop(self) -> None:
        if self._watch_task is not None:
            self._watch_task.cancel()
        if self._watcher is not None:
            try:
                await self._watcher.stop()
            except Exception:
                pass

    async def _follow(self) -> None:
        assert self._watcher is not None
        async for entry in self._watcher:
            if entry is None:
                continue
            try:
                self._on_entry(entry)
            except Exception:
                logger.exception("applying a name update failed")

    def _on_entry(self, entry: Any) -> None:
        prefix, _, encoded = entry.key.partition(".")
        table = self.tables.get(prefix)
        if table is None:
            return
        name = name_of(encoded)
        current = table.get(name)
        if current is not None and current.revision > entry.revision:
            return  # older than what we know
        if entry.operation in ("DEL", "PURGE") or not entry.value:
            if current is not None:
                del table[name]
                self._disown(current.pid, prefix, name)
            return
        binding = _binding(entry.value, entry.revision)
        if binding is not None:
            self._apply(prefix, name, binding)

    def _apply(self, prefix: str, name: str, binding: Binding) -> None:
        table = self.tables[prefix]
        current = table.get(name)
        if current is not None and current.revision > binding.revision:
            return
        table[name] = binding
        if current is not None and current.pid != binding.pid:
            self._disown(current.pid, prefix, name)
            if prefix == "e" and self._is_local(current.pid):
                self._revoke(current.pid, name)
        if self._is_local(binding.pid) and binding.node == self.cluster.name:
            if (
                binding.incarnation == self.cluster.incarnation
                and self._local_process(binding.pid) is not None
            ):
                self._own(binding.pid, prefix, name)
            elif self.cluster.loop is not None and self.cluster.loop.in_loop:
                asyncio.get_running_loop().create_task(
                    self._delete_revision(key_of(prefix, name), binding.revision)
                )

    def _revoke(self, pid: PID, name: str) -> None:
        """An eventual name of ``pid`` was taken by a later registration elsewhere."""
        self.cluster.node.deliver(pid, (Signal.CANCEL, None, f"name revoked: {name}", None, time.time()))

    def fence(self) -> None:
        """This node was cut off and left: it holds no cluster-wide name or lock any more (the
        other nodes released them, or will), so forget them all and stop following the bucket."""
        with self._owned_lock:
            self._owned.clear()
        self._pending_eventual.clear()
        for table in self.tables.values():
            table.clear()
        if self._watch_task is not None:
            self._watch_task.cancel()

    # -- cleaning up after dead nodes ---------------------------------------------------------------

    def _member_down(self, member: Member, error: errors.Error) -> None:
        if self.cluster.janitor():
            asyncio.get_running_loop().create_task(self._release_of(member.name, member.incarnation))

    async def _release_of(self, node: str, incarnation: int) -> None:
        for prefix, table in self.tables.items():
            for name, binding in list(table.items()):
                if binding.node == node and binding.incarnation == incarnation:
                    await self._delete_revision(key_of(prefix, name), binding.revision)

    async def sweep(self) -> None:
        """On the janitor: delete bindings whose node is not live (it died while nobody watched)."""
        cluster = self.cluster
        now = time.monotonic()
        if now - cluster.started_at < cluster.failure_timeout or not cluster.janitor():
            return
        for prefix, table in self.tables.items():
            for name, binding in list(table.items()):
                if not self._live(binding) and now - binding.seen >= cluster.failure_timeout:
                    await self._delete_revision(key_of(prefix, name), binding.revision)

    def bindings(self, scope: str) -> dict[str, PID]:
        """The live bindings of a cluster scope (``consistent``, ``eventual``; ``lock`` for locks)."""
        table = self.tables[_PREFIX[scope]]
        return {name: b.pid for name, b in sorted(table.items()) if self._live(b)}


async def _gather(coros: list[Any]) -> None:
    await asyncio.gather(*coros, return_exceptions=True)


def _binding(value: bytes | None, revision: int) -> Binding | None:
    if not value:
        return None
    try:
        pid_text, node, incarnation, *rest = codec.loads(value)
        strong = bool(rest) and rest[0] == STRONG
        return Binding(PID.parse(pid_text), node, int(incarnation), revision, time.monotonic(), strong)
    except Exception:
        return None


def _caller_pid() -> PID | None:
    caller = current_process()
    return caller.pid if caller is not None else None


def _check_name(name: Any) -> None:
    if not isinstance(name, str) or not name:
        raise errors.Error(errors.INVALID, "name must be a non-empty string")
    if name.startswith("{") and name.endswith("}"):
        raise errors.Error(errors.INVALID, f"name {name!r} looks like a PID")
