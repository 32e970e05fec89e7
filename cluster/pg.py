"""Lua's ``pg`` module (Wippy's ``en/lua/core/pg.md``) and the ``pg.scope`` entry kind.

``local group = pg.open("app:pg")`` opens a scope (a ``pg.scope`` entry);
its methods join, leave, list, broadcast and monitor process groups through
:mod:`cluster.groups`: the cluster's groups on a node in a cluster, this
node's own otherwise (groups work on one node too).  Not available in
workflows (membership is the world outside a workflow).

A ``pg.scope`` entry takes Wippy's fields; actorflow uses the limits
``max_groups`` and ``max_members_per_group`` (0 or absent: actorflow's
defaults, :data:`cluster.groups.MAX_GROUPS` and
:data:`~cluster.groups.MAX_MEMBERS_PER_GROUP`, where Wippy has no limit) and
accepts the others (timeouts, retries, circuit breakers of Wippy's own
transport) without using them.
"""

from __future__ import annotations

import itertools
from importlib import resources
from typing import Any

from actors import errors
from actors.entries import Entry, KindSpec, Registry, register_kind
from actors.lua import Caller, register_module
from actors.pid import PID
from cluster.groups import MAX_GROUPS, MAX_MEMBERS_PER_GROUP, Groups, groups_of

__all__ = ["SCOPE_KIND"]

SCOPE_KIND = "pg.scope"

_LIMIT_FIELDS = {"max_groups": MAX_GROUPS, "max_members_per_group": MAX_MEMBERS_PER_GROUP}
_DURATION_FIELDS = (
    "protocol_timeout",
    "broadcast_timeout",
    "anti_entropy_interval",
    "circuit_breaker_reset_time",
    "retry_base_delay",
    "retry_max_delay",
)
_COUNT_FIELDS = (
    "circuit_breaker_failures",
    "max_retries",
    "action_queue_size",
    "action_queue_max_size",
    "monitor_buffer",
)
_topics = itertools.count(1)


def _check_scope(entry: Entry, registry: Registry) -> list[str]:
    problems = []
    for field in (*_LIMIT_FIELDS, *_COUNT_FIELDS):
        value = entry.get(field)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
            problems.append(f"{field} must be a non-negative integer, got {value!r}")
    for field in _DURATION_FIELDS:
        value = entry.get(field)
        if value is not None and not isinstance(value, (str, int, float)):
            problems.append(f"{field} must be a duration, got {value!r}")
    return problems


register_kind(
    KindSpec(SCOPE_KIND, check=_check_scope, description="a scope of process groups (the pg module)")
)


# -- the handlers ------------------------------------------------------------------------------


def _groups(caller: Caller, scope: Any) -> tuple[Groups, str]:
    """The groups of the caller's node and the scope ``scope`` names (checked, limits applied)."""
    node = caller.node
    if node is None:
        raise errors.Error(errors.INVALID, "pg is not available in workflows")
    if not isinstance(scope, str) or not scope:
        raise errors.Error(errors.INVALID, "pg.open: expected a pg.scope entry ID")
    groups = groups_of(node)
    entries = getattr(getattr(node, "kinds", None), "entries", None)
    if entries is not None:
        entry = entries.get(scope)
        if entry is None or entry.kind != SCOPE_KIND:
            what = "not found" if entry is None else f"is a {entry.kind}, not a {SCOPE_KIND}"
            raise errors.Error(errors.INTERNAL, f"pg scope {scope!r} {what}", retryable=False)
        if not groups.limited(scope):
            groups.limit(
                scope,
                **{field: entry.get(field) or default for field, default in _LIMIT_FIELDS.items()},
            )
    return groups, scope


def _me(caller: Caller) -> PID:
    return PID.parse(caller.pid)


def _texts(pids: list[PID]) -> list[str]:
    return [str(pid) for pid in pids]


def _group_list(value: Any) -> str | list[str]:
    """A group name or a Lua list of them (a table comes as a list or an int-keyed dict)."""
    if isinstance(value, dict):
        value = [value[key] for key in sorted(key for key in value if isinstance(key, int))]
    if isinstance(value, (list, tuple)) and not value:
        raise errors.Error(errors.INVALID, "groups table must not be empty")
    return value  # type: ignore[no-any-return]


def _open(caller: Caller, scope: Any = None) -> str:
    _groups(caller, scope)
    return str(scope)


def _join(caller: Caller, scope: Any, group: Any = None) -> bool:
    groups, name = _groups(caller, scope)
    return groups.join(_group_list(group), _me(caller), scope=name)


def _leave(caller: Caller, scope: Any, group: Any = None) -> bool:
    groups, name = _groups(caller, scope)
    return groups.leave(_group_list(group), _me(caller), scope=name)


def _members(caller: Caller, scope: Any, group: Any = None) -> list[str]:
    groups, name = _groups(caller, scope)
    return _texts(groups.members(group, scope=name))


def _local_members(caller: Caller, scope: Any, group: Any = None) -> list[str]:
    groups, name = _groups(caller, scope)
    return _texts(groups.local_members(group, scope=name))


def _which_groups(caller: Caller, scope: Any) -> list[str]:
    groups, name = _groups(caller, scope)
    return groups.which_groups(scope=name)


def _which_local_groups(caller: Caller, scope: Any) -> list[str]:
    groups, name = _groups(caller, scope)
    return groups.which_local_groups(scope=name)


def _broadcaster(local: bool) -> Any:
    def broadcast(caller: Caller, scope: Any, group: Any = None, topic: Any = None, *payloads: Any) -> bool:
        groups, name = _groups(caller, scope)
        if not isinstance(topic, str) or not topic:
            raise errors.Error(errors.INVALID, "topic is required")
        send = groups.broadcast_local if local else groups.broadcast
        send(group, topic, *payloads, scope=name, sender=_me(caller))
        return True

    return broadcast


def _topic(caller: Caller, what: str) -> str:
    return f"pg.{what}@{next(_topics)}"


def _monitor(caller: Caller, scope: Any, group: Any, topic: str) -> list[str]:
    groups, name = _groups(caller, scope)
    return _texts(groups.monitor(group, _me(caller), topic=topic, scope=name))


def _demonitor(caller: Caller, scope: Any, group: Any, topic: str) -> bool:
    groups, name = _groups(caller, scope)
    return groups.demonitor(group, _me(caller), scope=name, topic=topic)


def _events(caller: Caller, scope: Any, topic: str) -> dict[str, list[str]]:
    groups, name = _groups(caller, scope)
    snapshot = groups.monitor_scope(_me(caller), topic=topic, scope=name)
    return {group: _texts(pids) for group, pids in snapshot.items()}


def _demonitor_scope(caller: Caller, scope: Any, topic: str) -> bool:
    groups, name = _groups(caller, scope)
    return groups.demonitor_scope(_me(caller), scope=name, topic=topic)


register_module(
    "pg",
    resources.files(__package__) / "lua" / "pg.lua",
    {
        "open": _open,
        "join": _join,
        "leave": _leave,
        "members": _members,
        "local_members": _local_members,
        "which_groups": _which_groups,
        "which_local_groups": _which_local_groups,
        "broadcast": _broadcaster(local=False),
        "broadcast_local": _broadcaster(local=True),
        "topic": _topic,
        "monitor": _monitor,
        "demonitor": _demonitor,
        "events": _events,
        "demonitor_scope": _demonitor_scope,
    },
    in_workflows=False,
)
