"""Process groups across nodes, after Erlang's ``pg`` (Wippy's ``pg`` module).

A process joins named groups (several times: it must leave as many times);
a broadcast reaches every member on every node, or only this node's.  Each
node owns the membership of its own processes and tells the others, as
Erlang's ``pg`` does: every change goes into the frames to every other node,
in order, and a node that comes up gets a full snapshot first.  Membership is
eventually consistent: a join is visible here at once and on other nodes a
frame later.  A process leaves all its groups when it exits; a node's members
leave when the node goes down.  A node that is in no cluster has groups too,
of its own processes only (:func:`groups_of`).

Monitoring a group returns its members and then sends the monitoring process
a message on a topic of its choice for every change::

    {"system": "pg", "kind": "member.joined" | "member.left",
     "path": group, "data": {"Group": group, "PIDs": [pid, ...]}}

Monitoring a *scope* (:meth:`Groups.monitor_scope`) does the same for every
group of the scope and returns a snapshot of them all.

Groups live in *scopes* (Wippy's ``pg.scope`` entries): the same group name
in two scopes is two groups.  Every scope has limits (:meth:`Groups.limit`):
groups with a member on this node, memberships of one group on this node
(multi-joins counted), and subscriptions.
"""

from __future__ import annotations

import threading
import weakref
from typing import TYPE_CHECKING, Any

from actors import codec, current_process, errors
from actors.node import Node, validate_topic
from actors.pid import PID
from actors.signals import Signal
from cluster._wire import GROUP, GROUPS

if TYPE_CHECKING:
    from cluster._core import Cluster
    from cluster._member import Member

__all__ = [
    "DEFAULT_SCOPE",
    "MAX_GROUPS",
    "MAX_MEMBERS_PER_GROUP",
    "MAX_SUBSCRIPTIONS",
    "Groups",
    "groups_of",
]

DEFAULT_SCOPE = "default"
JOINED = "member.joined"
LEFT = "member.left"

MAX_GROUPS = 10_000
"""Default: groups of one scope with a member on this node."""
MAX_MEMBERS_PER_GROUP = 100_000
"""Default: memberships of one group on this node, multi-joins counted."""
MAX_SUBSCRIPTIONS = 100_000
"""Default: group and scope monitors of one scope on this node."""

Key = tuple[str, str]
Counts = dict[PID, int]
Watchers = dict[PID, set[str]]
"""A monitoring process and the topics it gets the changes on."""


class Groups:
    """Join, leave, members, broadcast and monitor process groups (``cluster.groups``).

    ``Groups(node)`` alone serves a node that is in no cluster (local groups,
    released through the hosts' exit watches); a cluster makes its own with
    ``Groups(node, cluster)``, which tells the other nodes and is released by
    the exit hook of the cluster's names.
    """

    def __init__(self, node: Node, cluster: Cluster | None = None) -> None:
        self.node = node
        self.cluster = cluster
        self._lock = threading.RLock()
        self._local: dict[Key, Counts] = {}
        self._remote: dict[str, dict[Key, Counts]] = {}
        self._monitors: dict[Key, Watchers] = {}
        self._scope_monitors: dict[str, Watchers] = {}
        self._joined_by: dict[PID, set[Key]] = {}
        self._monitoring_by: dict[PID, set[Key]] = {}
        self._scopes_by: dict[PID, set[str]] = {}
        self._limits: dict[str, tuple[int, int, int]] = {}
        self._watched: set[PID] = set()
        if cluster is not None:
            cluster.on_member_up(self._member_up)
            cluster.on_member_down(self._member_down)

    def limit(
        self,
        scope: str,
        *,
        max_groups: int = MAX_GROUPS,
        max_members_per_group: int = MAX_MEMBERS_PER_GROUP,
        max_subscriptions: int = MAX_SUBSCRIPTIONS,
    ) -> None:
        """Set the limits of ``scope`` on this node (a join or monitor beyond is ``LIMIT_EXCEEDED``)."""
        for what, value in (
            ("max_groups", max_groups),
            ("max_members_per_group", max_members_per_group),
            ("max_subscriptions", max_subscriptions),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise errors.Error(errors.INVALID, f"{what} must be a positive integer, got {value!r}")
        with self._lock:
            self._limits[scope] = (max_groups, max_members_per_group, max_subscriptions)

    def limited(self, scope: str) -> bool:
        """True once :meth:`limit` set the limits of ``scope`` (else it has the defaults)."""
        return scope in self._limits

    def _limits_of(self, scope: str) -> tuple[int, int, int]:
        return self._limits.get(scope, (MAX_GROUPS, MAX_MEMBERS_PER_GROUP, MAX_SUBSCRIPTIONS))

    # -- membership -----------------------------------------------------------------------

    def join(
        self, group: str | list[str], pid: PID | str | None = None, *, scope: str = DEFAULT_SCOPE
    ) -> bool:
        """Add ``pid`` (default: the calling process, which must be on this node) to ``group``(s)."""
        member = self._local_pid(pid)
        names = _names(group)
        max_groups, max_members, _ = self._limits_of(scope)
        with self._lock:
            new_groups = {name for name in names if (scope, name) not in self._local}
            groups_here = sum(1 for key in self._local if key[0] == scope)
            if groups_here + len(new_groups) > max_groups:
                raise errors.Error(
                    errors.LIMIT_EXCEEDED, f"scope {scope!r} has {groups_here} groups here (max_groups)"
                )
            for name in names:
                counts = self._local.get((scope, name), {})
                if sum(counts.values()) + names.count(name) > max_members:
                    raise errors.Error(
                        errors.LIMIT_EXCEEDED,
                        f"group {name!r} has {max_members} memberships here (max_members_per_group)",
                    )
            for name in names:
                key = (scope, name)
                counts = self._local.setdefault(key, {})
                counts[member] = counts.get(member, 0) + 1
                self._joined_by.setdefault(member, set()).add(key)
                self._tell_all([GROUP, scope, name, member, 1])
                self._notify(key, JOINED, [member])
        self._release_when_gone(member)
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

    def snapshot(self, *, scope: str = DEFAULT_SCOPE) -> dict[str, list[PID]]:
        """Every group of ``scope`` and its members (on every live node)."""
        with self._lock:
            return {name: self.members(name, scope=scope) for name in self.which_groups(scope=scope)}

    # -- broadcast ------------------------------------------------------------------------------

    def broadcast(
        self,
        group: str,
        topic: str,
        *payloads: Any,
        scope: str = DEFAULT_SCOPE,
        sender: PID | str | None = None,
    ) -> int:
        """Send the message to every member of ``group``; how many members it went to.

        ``sender``: whom the members see it from (default: the calling process).
        """
        return self._broadcast(self.members(group, scope=scope), topic, payloads, sender)

    def broadcast_local(
        self,
        group: str,
        topic: str,
        *payloads: Any,
        scope: str = DEFAULT_SCOPE,
        sender: PID | str | None = None,
    ) -> int:
        """Send the message to the members of ``group`` on this node."""
        return self._broadcast(self.local_members(group, scope=scope), topic, payloads, sender)

    def _broadcast(
        self, members: list[PID], topic: str, payloads: tuple[Any, ...], sender: PID | str | None
    ) -> int:
        validate_topic(topic)
        encoded = tuple(codec.encode(p) for p in payloads)
        if sender is None:
            caller = current_process()
            sender = caller.pid if caller is not None else None
        item = (Signal.MSG, PID.coerce(sender) if sender is not None else None, topic, encoded)
        deliver = self.node.deliver
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
            self._check_subscriptions(scope)
            self._monitors.setdefault(key, {}).setdefault(watcher, set()).add(topic)
            self._monitoring_by.setdefault(watcher, set()).add(key)
            snapshot = self.members(group, scope=scope)
        self._release_when_gone(watcher)
        return snapshot

    def demonitor(
        self,
        group: str,
        pid: PID | str | None = None,
        *,
        scope: str = DEFAULT_SCOPE,
        topic: str | None = None,
    ) -> bool:
        """Stop monitoring ``group`` (on ``topic`` only, when given); False if it was not monitored."""
        watcher = self._local_pid(pid, alive=False)
        key = (scope, _name(group))
        with self._lock:
            return _drop_watch(self._monitors, key, self._monitoring_by, watcher, topic)

    def monitor_scope(
        self, pid: PID | str | None = None, *, topic: str = "pg", scope: str = DEFAULT_SCOPE
    ) -> dict[str, list[PID]]:
        """Send ``pid`` a message on ``topic`` for every change of every group of ``scope``;
        a snapshot of them all, taken with the subscription."""
        validate_topic(topic)
        watcher = self._local_pid(pid)
        with self._lock:
            self._check_subscriptions(scope)
            self._scope_monitors.setdefault(scope, {}).setdefault(watcher, set()).add(topic)
            self._scopes_by.setdefault(watcher, set()).add(scope)
            snapshot = self.snapshot(scope=scope)
        self._release_when_gone(watcher)
        return snapshot

    def demonitor_scope(
        self, pid: PID | str | None = None, *, scope: str = DEFAULT_SCOPE, topic: str | None = None
    ) -> bool:
        watcher = self._local_pid(pid, alive=False)
        with self._lock:
            return _drop_watch(self._scope_monitors, scope, self._scopes_by, watcher, topic)

    def _check_subscriptions(self, scope: str) -> None:
        limit = self._limits_of(scope)[2]
        count = sum(
            len(topics)
            for (s, _), watchers in self._monitors.items()
            if s == scope
            for topics in watchers.values()
        ) + sum(len(topics) for topics in self._scope_monitors.get(scope, {}).values())
        if count >= limit:
            raise errors.Error(
                errors.LIMIT_EXCEEDED, f"scope {scope!r} has {count} subscriptions here (max_subscriptions)"
            )

    def _notify(self, key: Key, kind: str, pids: list[PID]) -> None:
        watchers = self._monitors.get(key)
        everything = self._scope_monitors.get(key[0])
        if not pids or not (watchers or everything):
            return
        event = {
            "system": "pg",
            "kind": kind,
            "path": key[1],
            "data": {"Group": key[1], "PIDs": [str(p) for p in pids]},
        }
        payload = (codec.encode(event),)
        deliver = self.node.deliver
        for group_watchers in (watchers, everything):
            for watcher, topics in list((group_watchers or {}).items()):
                for topic in list(topics):
                    deliver(watcher, (Signal.MSG, None, topic, payload))

    # -- exits and other nodes ---------------------------------------------------------------------

    def has(self, pid: PID) -> bool:
        """True when ``pid`` is in a group or monitors one (its exit has something to release)."""
        return pid in self._joined_by or pid in self._monitoring_by or pid in self._scopes_by

    def release(self, pid: PID) -> None:
        """``pid`` exited: it leaves every group and stops monitoring (called on every exit)."""
        self._watched.discard(pid)
        if not self.has(pid):
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
            for scope in list(self._scopes_by.pop(pid, ())):
                watchers = self._scope_monitors.get(scope)
                if watchers is not None:
                    watchers.pop(pid, None)
                    if not watchers:
                        del self._scope_monitors[scope]

    def _release_when_gone(self, pid: PID) -> None:
        """Make sure ``pid``'s exit releases what it just took (and release it if it has ended)."""
        if self.cluster is not None:  # the cluster's names release it on exit
            if not self.node.is_alive(pid):
                self.release(pid)  # it exited meanwhile: its exit found nothing to release
            return
        with self._lock:
            if pid in self._watched:
                return
            self._watched.add(pid)
        try:
            host = self.node.host(pid.host)
        except errors.Error:
            self.release(pid)
            return
        host.watch(pid, lambda _value, _error: self.release(pid))

    def _tell_all(self, entry: list[Any]) -> None:
        cluster = self.cluster
        if cluster is None:
            return
        for member in list(cluster.members.values()):
            if not member.down:
                cluster.enqueue(member, entry)

    def _member_up(self, member: Member) -> None:
        assert self.cluster is not None
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
        node = self.node
        if pid is None:
            caller = current_process()
            if caller is None:
                raise errors.Error(errors.INVALID, "a group operation needs a PID outside a process")
            return caller.pid
        target = node.resolve(pid)
        if not node.is_own(target):
            raise errors.Error(
                errors.INVALID, f"{target} is a process of node {target.node}: join from its own node"
            )
        if alive and not node.is_alive(target):
            raise errors.Error(errors.NOT_FOUND, f"process {target} not found")
        return target


_single_node: weakref.WeakKeyDictionary[Node, Groups] = weakref.WeakKeyDictionary()
_single_node_lock = threading.Lock()


def groups_of(node: Node) -> Groups:
    """The groups of ``node``: its cluster's, or, on a node in no cluster, local ones of its own."""
    cluster = getattr(node.names, "cluster", None)
    if cluster is not None:
        groups: Groups = cluster.groups
        return groups
    with _single_node_lock:
        found = _single_node.get(node)
        if found is None:
            found = _single_node[node] = Groups(node)
        return found


def _unwatch(watchers: Watchers | None, watcher: PID, topic: str | None) -> bool:
    """Remove ``watcher``'s ``topic`` (every topic when None); False if there was none."""
    if not watchers or watcher not in watchers:
        return False
    topics = watchers[watcher]
    if topic is None:
        del watchers[watcher]
        return True
    if topic not in topics:
        return False
    topics.discard(topic)
    if not topics:
        del watchers[watcher]
    return True


def _drop_watch(table: dict[Any, Watchers], key: Any, by_watcher: dict[PID, set[Any]], watcher: PID,
                topic: str | None) -> bool:  # fmt: skip
    """Drop ``watcher``'s watch of ``key`` (on ``topic`` only, when given); once it watches ``key``
    on no topic, ``key`` leaves its ``by_watcher`` set too.  False if there was no such watch."""
    watchers = table.get(key)
    if watchers is None or not _unwatch(watchers, watcher, topic):
        return False
    if not watchers:
        del table[key]
    if watcher not in watchers:
        keys = by_watcher.get(watcher)
        if keys is not None:
            keys.discard(key)
            if not keys:
                del by_watcher[watcher]
    return True


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
