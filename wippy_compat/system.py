"""The ``system`` module (``en/lua/system/system.md``): the runtime, the hosts, the services, locks.

What a Python runtime has an answer for is answered (memory of this OS
process and of its Lua states, threads for goroutines, hosts and their
processes, service states, the node's identity and its cluster, locks);
Go-only knobs (``memory.set_limit``, ``gc.set_percent``,
``runtime.max_procs(n)``) and the Raft state answer ``nil, err`` saying so.
``system.exit(code)`` records the exit status and ends the processes of the
terminal hosts: the ``actorflow exec`` that runs one exits with that status.

``system.lock`` is Wippy's: a set-if-absent of the holder, so a lock has at
most one holder and does not nest (a second ``acquire``, even by the holder,
is ``false, ALREADY_EXISTS``); only the holder releases it, and it goes when
the holder exits.  On a node in a cluster the lock is the cluster's
(``cluster.locks``: one holder cluster-wide, released when the holder's node
goes too) and ``acquire``/``release`` wait for NATS without holding the
process's thread; on a node of its own it is this node's.  ``system.node``
and ``system.cluster`` report the cluster the node is in (there is no Raft:
the role is ``non-member`` and the leader unknown).
"""

from __future__ import annotations

import gc
import os
import socket
import threading
import weakref
from importlib import resources
from typing import Any

from actors import errors
from actors.lua import Caller, module_names, register_module
from wippy_compat._context import caller_pid, resources_of

__all__ = ["requested_exit"]

_exits: weakref.WeakKeyDictionary[Any, int] = weakref.WeakKeyDictionary()
_locks: weakref.WeakKeyDictionary[Any, dict[str, str]] = weakref.WeakKeyDictionary()
_lock = threading.Lock()
MAX_LOCKS = 10_000
"""The most named locks held at once in one app."""


def requested_exit(node: Any) -> int | None:
    """The exit status ``system.exit`` asked for in this node's app, if it was called."""
    return _exits.get(node)


def _unsupported(what: str) -> errors.Error:
    return errors.Error(errors.INVALID, f"system.{what} is not supported by actorflow (a Go runtime setting)")


def _rss() -> int:
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _lua_memory(app: Any) -> int:
    pool = getattr(app, "lua_pool", None)
    states = list(getattr(pool, "_states", []) or [])
    return sum(state.memory_used() for state in states if state.lua is not None)


def _system(caller: Caller, area: str, what: str, *args: Any) -> Any:
    app = resources_of(caller).app
    node = app.node
    if area == "exit":
        code = args[0] if args and args[0] is not None else 0
        if isinstance(code, bool) or not isinstance(code, int):
            raise errors.Error(errors.INVALID, "system.exit: code must be an integer")
        _exits[node] = code & 0xFF
        from wippy_compat.terminal import TerminalHost

        me = caller_pid(caller)
        ending_me = False
        for host in _hosts(app):
            if isinstance(host, TerminalHost):
                for pid in _pids(host):
                    ending_me = ending_me or pid == me
                    node.terminate(pid)
        return True, None, ending_me
    if area == "modules":
        return [{"name": name, "description": "", "class": []} for name in sorted(module_names())]
    if area == "memory":
        if what == "stats":
            rss = _rss()
            counts = gc.get_count()
            return {
                "alloc": rss,
                "sys": rss,
                "heap_alloc": rss,
                "heap_objects": sum(counts),
                "lua_alloc": _lua_memory(app),
                "num_gc": sum(stat["collections"] for stat in gc.get_stats()),
            }
        if what == "allocated":
            return _rss()
        if what == "heap_objects":
            return sum(gc.get_count())
        if what == "get_limit":
            limit = getattr(app, "lua_state_memory", None)
            return -1 if limit is None else int(limit)
        raise _unsupported(f"memory.{what}")
    if area == "gc":
        if what == "collect":
            gc.collect()
            return True
        if what == "get_percent":
            return 100
        raise _unsupported(f"gc.{what}")
    if area == "runtime":
        if what == "goroutines":
            return threading.active_count()
        if what == "cpu_count":
            return os.cpu_count() or 1
        if what == "max_procs":
            if args and args[0] is not None:
                raise _unsupported("runtime.max_procs(n)")
            return os.cpu_count() or 1
    if area == "process":
        if what == "pid":
            return os.getpid()
        if what == "hostname":
            return socket.gethostname()
        if what == "cwd":
            return os.getcwd()
    if area == "hosts":
        if what == "list":
            return [_host_row(host) for host in _hosts(app)]
        if what == "processes":
            host_id = args[0] if args else None
            if not isinstance(host_id, str):
                raise errors.Error(errors.INVALID, "system.hosts.processes: expected a host ID")
            host = node.host(host_id)
            pids = _pids(host)
            rows = []
            for pid in pids:
                process = node.process(pid)
                if process is None:
                    continue
                row = {"pid": str(pid), "host": host_id, "source": process.entry_id, "state": "running"}
                if process.parent is not None:
                    row["parent"] = str(process.parent)
                rows.append(row)
            return rows
    if area == "node":
        cluster = _cluster_of(node)
        if what == "id":
            return cluster.name if cluster is not None else node.name
        if what == "role":
            return "non-member"  # no Raft core: consensus is NATS JetStream's
        if cluster is not None:
            return str(cluster.nc.connected_url.netloc) if cluster.nc is not None else ""
        raise errors.Error(errors.INTERNAL, "system.node.addr: clustering is not enabled")
    if area == "cluster":
        cluster = _cluster_of(node)
        names = cluster.member_names() if cluster is not None else [node.name]
        local = cluster.name if cluster is not None else node.name
        if what == "members":
            return [
                {"id": name, "is_local": name == local} for name in [local, *(n for n in names if n != local)]
            ]
        if what == "leader":
            return ""
        if what == "size":
            return len(names)
    if area == "raft":
        raise errors.Error(errors.INTERNAL, "raft not available")
    raise errors.Error(errors.INVALID, f"system: no function {area}.{what}")


def _cluster_of(node: Any) -> Any:
    """The node's ``cluster.Cluster`` when it is in one (its names are the cluster's), else None."""
    return getattr(node.names, "cluster", None)


def _hosts(app: Any) -> list[Any]:
    """The app's process hosts (and terminal hosts), as the node has them."""
    ids = [entry.id for entry in app.registry.of_kind("process.host", "terminal.host")]
    hosts = []
    for host_id in ids or [getattr(app.node, "default_host_id", "")]:
        try:
            hosts.append(app.node.host(host_id))
        except errors.Error:
            continue
    return hosts


def _pids(host: Any) -> list[Any]:
    """The PIDs a host runs (a ProcessHost keeps them in its process table; no public list)."""
    pids = getattr(host, "pids", None)
    if pids is not None:
        return list(pids())
    return list(getattr(host, "_procs", {}))


def _host_row(host: Any) -> dict[str, Any]:
    count = host.count() if hasattr(host, "count") else 0
    return {"id": host.id, "workers": getattr(host, "workers", 0), "processes": count, "queue_depth": 0}


def _lock_operation(caller: Caller, what: str, name: Any = None) -> Any:
    """``system.lock.acquire``/``release``: the cluster's lock, or this node's (a waiting operation)."""
    if what not in ("acquire", "release"):
        raise errors.Error(errors.INVALID, f"system.lock: no function {what}")
    if not isinstance(name, str) or not name:
        raise errors.Error(errors.INVALID, f"system.lock.{what}: expected a lock name")
    node = resources_of(caller).app.node
    me = caller_pid(caller)
    locks = getattr(_cluster_of(node), "locks", None)
    if locks is None:
        return _local_lock(node, what, name, str(me))
    resume = caller.suspend()

    def done(value: Any, error: errors.Error | None) -> None:
        if error is not None:
            resume(None, error)
        elif what == "acquire" and not value:
            resume(False, _held(name))
        else:
            resume(bool(value), None)

    if what == "acquire":
        locks.acquire_later(name, me, done)
    else:
        locks.release_later(name, me, done)
    return None


def _held(name: str) -> errors.Error:
    return errors.Error(errors.ALREADY_EXISTS, f"lock held: {name}", retryable=False)


def _local_lock(node: Any, what: str, name: str, me: str) -> Any:
    with _lock:
        held = _locks.setdefault(node, {})
        holder = held.get(name)
        if holder is not None and holder != me and not node.is_alive(holder):
            del held[name]  # released when the holder ended
            holder = None
        if what == "acquire":
            if holder is not None:
                return False, _held(name)
            if len(held) >= MAX_LOCKS:
                for stale in [key for key, pid in held.items() if not node.is_alive(pid)]:
                    del held[stale]
                if len(held) >= MAX_LOCKS:
                    raise errors.Error(errors.LIMIT_EXCEEDED, f"more than {MAX_LOCKS} locks are held")
            held[name] = me
            return True
        if holder != me:
            return False
        del held[name]
        return True


def _supervisor(caller: Caller, what: str, service_id: Any = None) -> None:
    """Service states from the services' supervisor: asked from a thread (an ask waits)."""
    app = resources_of(caller).app
    services = getattr(app, "services", None)
    if what == "state" and not isinstance(service_id, str):
        raise errors.Error(errors.INVALID, "system.supervisor.state: expected a service ID")
    resume = caller.suspend()

    def ask() -> None:
        if services is None:
            if what == "state":
                resume(None, errors.Error(errors.NOT_FOUND, f"service {service_id!r} not found"))
            else:
                resume([], None)
            return
        try:
            rows = [_service_row(row) for row in services.status()]
        except errors.Error as err:
            resume(None, err)
            return
        if what == "states":
            resume(rows, None)
            return
        for row in rows:
            if row["id"] == service_id:
                resume(row, None)
                return
        resume(None, errors.Error(errors.NOT_FOUND, f"service {service_id!r} not found"))

    threading.Thread(target=ask, name="system-supervisor", daemon=True).start()


def _service_row(row: dict[str, Any]) -> dict[str, Any]:
    state = {
        "id": row["id"],
        "status": row["state"],
        "desired": "running",
        "retry_count": row.get("restarts", 0),
    }
    if row.get("last_error"):
        state["details"] = str(row["last_error"])
    return state


register_module(
    "system",
    resources.files(__package__) / "lua" / "system.lua",
    {"call": _system, "supervisor": _supervisor, "lock": _lock_operation},
    in_workflows=False,
    waiting=("supervisor", "lock"),
)
