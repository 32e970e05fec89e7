"""Process groups across nodes, after Erlang's ``pg`` (Wippy's ``pg`` module).

A process joins named groups (several times: it must leave as many times);
a broadcast reaches every member on every node, or only this node's.  Each
node owns the membership of its own processes and tells the others, as
Erlang's ``pg`` does: every change goes into the frames to every other node,
in order, and a node that comes up gets a full snapshot first.  Membership is
eventually consistent: a join is visible here at once and on other nodes a
frame later.  A process leaves all its groups when it exits; a node's members
leave when the node goes down.

Monitoring a group returns its members and then sends the monitoring process
a message on a topic of its choice for every change::

    {"system": "pg", "kind": "member.joined" | "member.left",
     "path": group, "data": {"Group": group, "PIDs": [pid, ...]}}

Groups live in *scopes* (Wippy's ``pg.scope`` entries): the same group name
in two scopes is two groups.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from actors import codec, current_process, errors
from actors.node import validate_topic
from actors.pid import PID
from actors.signals import Signal
from cluster._wire import GROUP, GROUPS

if TYPE_CHECKING:
    from cluster._core import Cluster
    from cluster._member import Member

__all__ = ["DEFAULT_SCOPE", "Groups"]

DEFAULT_SCOPE = "default"
JOINED = "member.joined"
LEFT = "member.left"

Key = tuple[str, str]
Counts = dict[PID, int]


class Groups:
    """``cluster.groups``: join, leave, members, broadcast and monitor process groups."""

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster
        self._lock = threading.RLock()
        self._local: dict[Key, Counts] = {}
        self._remote: dict[str, dict[Key, Counts]] = {}
        self._monitors: dict[Key, dict[PID, str]] = {}
        self._joined_by: dict[PID, set[Key]] = {}
        self._monitoring_by: dict[PID, set[Key]] = {}
        cluster.on_member_up(self._member_up)
        cluster.on_member_down(self._member_down)

    # -- membership -----------------------------------------------------------------------

    def join(
        self, group: str | list[str], pid: PID | str | None = None, *, scope: str = DEFAULT_SCOPE
    ) -> bool:
        """Add ``pid`` (default: the calling process, which must be on this node) to ``group``(s)."""
        member = self._local_pid(pid)
        for name in _names(group):
            key = (scope, name)
            with self._lock:
                counts = self._local.setdefault(key, {})
                counts[member] = counts.get(member, 0) + 1
                self._joined_by.setdefault(member, set()).add(key)
                self._tell_all([GROUP, scope, name, member, 1])
                self._notify(key, JOINED, [member])
        if not self.cluster.node.is_alive(member):
            self.release(member)  # it exited meanwhile: its exit found nothing to release
        return True

    def leave(
        self, group: str | list[str], pid: PID | str | None = None, *, scope: str = DEFAULT_SCOPE
    ) -> bool:
        """Remove one membership of ``pid`` from each ``group``; ``INVALID`` if it was in none."""
        member = self._local_pid(pid, alive=False)
        left = False
        for name in _names(group):
            key = (scope, name)
            with self._lock:
                if self._drop(key, member, 1):
                    left = True
        if not left:
            raise errors.Error(errors.INVALID, f"{member} is not a member of {group!r}")
        return True

    def _drop(self, key: Key, member: PID, times: int) -> bool:
        counts = self._local.get(key)
        count = counts.get(member, 0) if counts else 0
        if not count:
            return False
        assert counts is not None
        times = min(times, count)
        if count == times:
            del counts[member]
            if not counts:
                del self._local[key]
            keys = self._joined_by.get(member)
            if keys is not None:
                keys.discard(key)
                if not keys:
                    del self._joined_by[member]
        else:
            counts[member] = count - times
        self._tell_all([GROUP, key[0], key[1], member, -times])
        self._notify(key, LEFT, [member])
        return True

    def members(self, group: str, *, scope: str = DEFAULT_SCOPE) -> list[PID]:
        """Every member of ``group`` on every live node, sorted (each once)."""
        key = (scope, _name(group))
        with self._lock:
            found = set(self._local.get(key, ()))
            for groups in self._remote.values():
                found.update(groups.get(key, ()))
        return sorted(found)

    def local_members(self, group: str, *, scope: str = DEFAULT_SCOPE) -> list[PID]:
        key = (scope, _name(group))
        with self._lock:
            return sorted(self._local.get(key, ()))

    def which_groups(self, *, scope: str = DEFAULT_SCOPE) -> list[str]:
        with self._lock:
            names = {name for (s, name) in self._local if s == scope}
            for groups in self._remote.values():
                names.update(name for (s, name) in groups if s == scope)
        return sorted(names)

    def which_local_groups(self, *, scope: str = DEFAULT_SCOPE) -> list[str]:
        with self._lock:
            return sorted(name for (s, name) in self._local if s == scope)

    # -- broadcast ------------------------------------------------------------------------------

    def broadcast(self, group: str, topic: str, *payloads: Any, scope: str = DEFAULT_SCOPE) -> int:
        """Send the message to every member of ``group``; how many members it went to."""
        return self._broadcast(self.members(group, scope=scope), topic, payloads)

    def broadcast_local(self, group: str, topic: str, *payloads: Any, scope: str = DEFAULT_SCOPE) -> int:
        """Send the message to the members of ``group`` on this node."""
        return self._broadcast(self.local_members(group, scope=scope), topic, payloads)

    def _broadcast(self, members: list[PID], topic: str, payloads: tuple[Any, ...]) -> int:
        validate_topic(topic)
        encoded = tuple(codec.encode(p) for p in payloads)
        caller = current_process()
        item = (Signal.MSG, caller.pid if caller is not None else None, topic, encoded)
        deliver = self.cluster.node.deliver
        return sum(1 for member in members if deliver(member, item))

    # -- monitoring ---------------------------------------------------------------------------------

    def monitor(
        self, group: str, pid: PID | str | None = None, *, topic: str = "pg", scope: str = DEFAULT_SCOPE
    ) -> list[PID]:
        """Send ``pid`` a message on ``topic`` for every join and leave of ``group``; its members now.

        The snapshot and the subscription are taken together: no change falls between them.
        """
        validate_topic(topic)
        watcher = self._local_pid(pid)
        key = (scope, _name(group))
        with self._lock:
            self._monitors.setdefault(key, {})[watcher] = topic
            self._monitoring_by.setdefault(watcher, set()).add(key)
            snapshot = self.members(group, scope=scope)
        if not self.cluster.node.is_alive(watcher):
            self.release(watcher)
        return snapshot

    def demonitor(self, group: str, pid: PID | str | None = None, *, scope: str = DEFAULT_SCOPE) -> bool:
        watcher = self._local_pid(pid, alive=False)
        key = (scope, _name(group))
        with self._lock:
            watchers = self._monitors.get(key)
            if not watchers or watcher not in watchers:
                return False
            del watchers[watcher]
            if not watchers:
                del self._monitors[key]
            keys = self._monitoring_by.get(watcher)
            if keys is not None:
                keys.discard(key)
                if not keys:
                    del self._monitoring_by[watcher]
        return True

    def _notify(self, key: Key, kind: str, pids: list[PID]) -> None:
        watchers = self._monitors.get(key)
        if not watchers or not pids:
            return
        event = {
            "system": "pg",
            "kind": kind,
            "path": key[1],
            "data": {"Group": key[1], "PIDs": [str(p) for p in pids]},
        }
        payload = (codec.encode(event),)
        deliver = self.cluster.node.deliver
        for watcher, topic in list(watchers.items()):
            deliver(watcher, (Signal.MSG, None, topic, payload))

    # -- exits and other nodes ---------------------------------------------------------------------

    def has(self, pid: PID) -> bool:
        """True when ``pid`` is in a group or monitors one (its exit has something to release)."""
        return pid in self._joined_by or pid in self._monitoring_by

    def release(self, pid: PID) -> None:
        """``pid`` exited: it leaves every group and stops monitoring (called on every exit)."""
        if pid not in self._joined_by and pid not in self._monitoring_by:
            return
        with self._lock:
            for key in list(self._joined_by.get(pid, ())):
                self._drop(key, pid, self._local.get(key, {}).get(pid, 0))
            for key in list(self._monitoring_by.pop(pid, ())):
                watchers = self._monitors.get(key)
                if watchers is not None:
                    watchers.pop(pid, None)
                    if not watchers:
                        del self._monitors[key]

    def _tell_all(self, entry: list[Any]) -> None:
        for member in list(self.cluster.members.values()):
            if not member.down:
                self.cluster.enqueue(member, entry)

    def _member_up(self, member: Member) -> None:
        with self._lock:
            snapshot = [
                [scope, name, [[pid, count] for pid, count in counts.items()]]
                for (scope, name), counts in self._local.items()
            ]
            self.cluster.enqueue(member, [GROUPS, snapshot])

    def _member_down(self, member: Member, error: errors.Error) -> None:
        with self._lock:
            groups = self._remote.pop(member.name, {})
            for key, counts in groups.items():
                self._notify(key, LEFT, sorted(counts))

    def apply(self, member: Member, entry: list[Any]) -> None:
        """A change (or the snapshot) of ``member``'s local membership."""
        with self._lock:
            if member.down:
                return
            if entry[0] == GROUPS:
                old = self._remote.get(member.name, {})
                new: dict[Key, Counts] = {}
                for scope, name, pairs in entry[1]:
                    new[(scope, name)] = {pid: int(count) for pid, count in pairs}
                self._remote[member.name] = new
                for key in set(old) | set(new):
                    before, after = old.get(key, {}), new.get(key, {})
                    self._notify(key, JOINED, sorted(p for p in after if p not in before))
                    self._notify(key, LEFT, sorted(p for p in before if p not in after))
                return
            _, scope, name, pid, delta = entry
            key = (scope, name)
            groups = self._remote.setdefault(member.name, {})
            counts = groups.setdefault(key, {})
            count = counts.get(pid, 0) + int(delta)
            if count > 0:
                counts[pid] = count
            else:
                counts.pop(pid, None)
                if not counts:
                    del groups[key]
            self._notify(key, JOINED if delta > 0 else LEFT, [pid])

    def _local_pid(self, pid: PID | str | None, *, alive: bool = True) -> PID:
        cluster = self.cluster
        if pid is None:
            caller = current_process()
            if caller is None:
                raise errors.Error(errors.INVALID, "a group operation needs a PID outside a process")
            return caller.pid
        target = cluster.node.resolve(pid)
        if target.node and target.node != cluster.name:
            raise errors.Error(
                errors.INVALID, f"{target} is a process of node {target.node}: join from its own node"
            )
        if alive and not cluster.node.is_alive(target):
            raise errors.Error(errors.NOT_FOUND, f"process {target} not found")
        return target


def _name(group: Any) -> str:
    if not isinstance(group, str) or not group:
        raise errors.Error(errors.INVALID, "group name must be a non-empty string")
    return group


def _names(group: Any) -> list[str]:
    if isinstance(group, (list, tuple)):
        if not group:
            raise errors.Error(errors.INVALID, "expected at least one group name")
        return [_name(g) for g in group]
    return [_name(group)]
