"""Temporal updates and queries to workflow PIDs, from Python and from Lua.

A Lua workflow serves a Temporal update named ``U`` as a message on topic
``U`` from the sender ``{update|<update ID>}``: its replies ``ack``, ``nak``,
``ok`` and ``error`` accept, reject, complete or fail it (spec §12.10), so the
same code serves signals from processes and updates from any Temporal client.
Every Lua workflow answers the queries ``pid`` (its workflow ID) and
``state`` (an empty map).  This module sends them from actorflow itself.

Python::

    from temporal_bridge import query, update

    value = update(app.node, pid, "increment", {"amount": 2})  # the "ok" reply
    assert query(app.node, pid, "pid") == pid.uniq

A ``nak`` (the update was rejected) or an ``error`` reply is raised as an
:class:`~actors.errors.Error` with the kind and message the workflow gave
(``INVALID`` for a plain-text ``nak`` reason); an unknown workflow is
``NOT_FOUND``; no answer within ``timeout`` seconds is ``TIMEOUT``.

Lua, in a process whose entry lists the ``temporal`` module (a workflow
cannot: Temporal has no update from one workflow to another)::

    local temporal = require("temporal")
    local value, err = temporal.update(pid, "increment", {amount = 2})
    local workflow_id, err = temporal.query(pid, "pid")
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Callable
from importlib import resources
from typing import Any

from actors import errors
from actors.lua.modules import Caller, register_module
from actors.lua.runtime import text
from actors.pid import PID
from temporal_bridge.failures import from_failure
from temporal_bridge.host import TemporalPeer, peer_for

__all__ = ["query", "update"]


def update(node: Any, dest: PID | str, name: str, *args: Any, timeout: float | None = None) -> Any:
    """Send workflow ``dest`` the Temporal update ``name`` with ``args``; its ``ok`` value."""
    pid, peer = _workflow(node, dest)
    return peer.update(pid, _name(name, "update"), args, timeout=timeout)


def query(node: Any, dest: PID | str, name: str, *args: Any, timeout: float | None = None) -> Any:
    """Ask workflow ``dest`` the query ``name`` (``pid`` or ``state``); its answer."""
    pid, peer = _workflow(node, dest)
    return peer.query(pid, _name(name, "query"), args, timeout=timeout)


def _workflow(node: Any, dest: PID | str) -> tuple[PID, TemporalPeer]:
    if node is None:
        raise errors.Error(errors.UNAVAILABLE, "no node: the app is not running")
    pid = node.resolve(dest)
    return pid, peer_for(node, pid)


def _name(name: Any, what: str) -> str:
    if not isinstance(name, str) or not name:
        raise errors.Error(errors.INVALID, f"the {what} name must be a non-empty string, got {name!r}")
    if what == "update" and name.startswith("@"):
        raise errors.Error(errors.INVALID, f"cannot send an update to @ topics ({name!r} is reserved)")
    return name


# -- the Lua module ------------------------------------------------------------------------------------


def _lua_operation(call: Callable[[TemporalPeer], Callable[..., Any]], what: str) -> Callable[..., Any]:
    """A waiting operation of the ``temporal`` module: the RPC runs on the bridge's loop and
    the calling coroutine resumes with ``value`` or ``nil, err`` (the others run meanwhile)."""

    def operation(caller: Caller, dest: Any, name: Any, count: Any = 0, *values: Any) -> Any:
        pid, peer = _workflow(caller.node, text(dest) if isinstance(dest, bytes) else dest)
        args = list(values[: int(count)]) + [None] * max(0, int(count) - len(values))
        method = call(peer)
        timeout = peer.rpc_timeout

        async def run() -> Any:
            try:
                return await asyncio.wait_for(method(pid, _name(name, what), args), timeout)
            except TimeoutError:
                raise errors.Error(
                    errors.TIMEOUT,
                    f"{what} {name!r} of {pid}: no answer within {timeout:g} s",
                    retryable=True,
                ) from None

        resume = caller.suspend()

        def finished(future: concurrent.futures.Future[Any]) -> None:
            try:
                resume(future.result())
            except errors.Error as err:
                resume(None, err)
            except BaseException as exc:  # what temporalio raised: the same kinds as everywhere
                resume(None, from_failure(exc))

        peer.loop.submit(run()).add_done_callback(finished)
        return None

    return operation


register_module(
    "temporal",
    resources.files(__package__).joinpath("temporal.lua"),
    {
        "update": _lua_operation(lambda peer: peer.update_async, "update"),
        "query": _lua_operation(lambda peer: peer.query_async, "query"),
    },
    in_workflows=False,
    waiting=("update", "query"),
    replace=True,
)
