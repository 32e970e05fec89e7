"""Activities: ``funcs.call`` from a workflow, and the relay to local processes.

* An entry that declares ``meta.temporal.activity.worker`` is registered as
  the activity named by its entry ID on that worker only
  (:func:`entry_activity`); ``local: true`` makes the workflow's calls to it
  Temporal local activities (see ``LuaWorkflow.call``).
* The dynamic activity runs whatever else ``funcs.call`` named, on every
  worker: a ``function.lua`` or ``process.lua`` entry without that meta (as a
  process on the app's process host, with the workflow's context) or a Python
  function registered on the node.  It refuses an entry registered on
  another worker (``NOT_FOUND``).
* Either way an error result becomes an ``ApplicationError`` with the
  error's kind, so retry policies and ``non_retryable_error_types`` see the
  kind, and the workflow gets the same error back.
* ``__actorflow_relay`` is a local activity that performs what a workflow asks
  of local processes (send, terminate, cancel), once: on replay its recorded
  result is used and nothing is sent again.
"""

from __future__ import annotations

import asyncio
import threading
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

from temporalio import activity
from temporalio.common import RawValue

from actors import codec, errors
from actors.pid import PID, is_pid_text
from actors.seam import SpawnRequest
from actors.signals import Signal
from temporal_bridge import _workers
from temporal_bridge._context import ACTIVITY_CONTEXT
from temporal_bridge.failures import to_application_error
from temporal_bridge.workflow import RELAY_ACTIVITY

__all__ = ["entry_activity", "relay", "run_function"]


def _config() -> _workers.WorkerConfig:
    info = activity.info()
    config = _workers.lookup(info.workflow_namespace or info.namespace, info.task_queue)
    if config is None or config.node is None:
        raise to_application_error(
            errors.Error(errors.UNAVAILABLE, f"no actorflow node serves task queue {info.task_queue!r}")
        )
    return config


@activity.defn(dynamic=True)
async def run_function(args: Sequence[RawValue]) -> Any:
    """Run the function entry (or Python function) named by the activity type."""
    config = _config()
    target = activity.info().activity_type
    declared = config.activities.get(target)
    if declared is not None and declared.worker_id != config.worker_id:
        raise to_application_error(
            errors.Error(
                errors.NOT_FOUND,
                f"activity {target!r} is registered on worker {declared.worker_id} only, not on "
                f"{config.worker_id}",
                retryable=False,
            )
        )
    converter = activity.payload_converter()
    return await _run(config, target, tuple(converter.from_payload(arg.payload) for arg in args))


def entry_activity(entry_id: str) -> Any:
    """The activity named ``entry_id`` (an entry with ``meta.temporal.activity.worker``)."""

    async def run_entry(*args: Any) -> Any:
        return await _run(_config(), entry_id, args)

    run_entry.__name__ = run_entry.__qualname__ = f"activity {entry_id}"
    return activity.defn(name=entry_id)(run_entry)


async def _run(config: _workers.WorkerConfig, target: str, values: tuple[Any, ...]) -> Any:
    """Run ``target`` (a registered Python function or a Lua entry) with ``values``; its value."""
    node = config.node
    context = ACTIVITY_CONTEXT.get() or {}
    loop = asyncio.get_running_loop()
    outcome: asyncio.Future[tuple[Any, errors.Error | None]] = loop.create_future()

    def done(value: Any, error: errors.Error | None) -> None:
        loop.call_soon_threadsafe(lambda: outcome.done() or outcome.set_result((value, error)))

    function = node.functions.get(target)
    pid: PID | None = None
    if function is not None:
        node.run_function(target, function, values, context, done)
    else:
        entry = node.kinds.entries.get(target) if node.kinds.entries is not None else None
        if entry is None or entry.kind not in ("function.lua", "process.lua"):
            raise to_application_error(
                errors.Error(errors.NOT_FOUND, f"function {target!r} not found", retryable=False)
            )
        request = SpawnRequest(target, values, context=dict(context) or None, on_exit=done)
        pid = node.spawn_request(request, config.process_host)
    try:
        value, error = await _heartbeating(outcome)
    except asyncio.CancelledError:
        if pid is not None and node.is_alive(pid):
            node.terminate(pid)
        raise
    if error is not None:
        raise to_application_error(error)
    return value


async def _heartbeating(outcome: asyncio.Future[Any]) -> Any:
    """Wait for ``outcome``, heartbeating meanwhile: Temporal tells an activity it was
    canceled (``future:cancel()``) only in answer to a heartbeat, and then the function's
    process is terminated; with a ``heartbeat_timeout`` the beats also keep it alive."""
    timeout = activity.info().heartbeat_timeout
    every = min(timeout.total_seconds() / 2, 5.0) if timeout else 5.0
    while True:
        try:
            return await asyncio.wait_for(asyncio.shield(outcome), every)
        except TimeoutError:
            activity.heartbeat()


_DELIVERED_KEYS = 100_000
_delivered: OrderedDict[tuple[int, str], None] = OrderedDict()
_delivered_lock = threading.Lock()


def _first_delivery(key: tuple[int, str]) -> bool:
    """Record ``key``; False when it was delivered already (the newest keys are kept)."""
    with _delivered_lock:
        if key in _delivered:
            return False
        _delivered[key] = None
        if len(_delivered) > _DELIVERED_KEYS:
            _delivered.popitem(last=False)
        return True


@activity.defn(name=RELAY_ACTIVITY)
async def relay(request: dict[str, Any]) -> dict[str, Any]:
    """Send to, terminate or cancel a local process on behalf of a workflow.

    A send is delivered once per key: the local activity may run again for the
    same step when the workflow task that ran it failed before recording its
    result, and the receiver must not see the message twice.  (The receiver
    lives in this OS process, so keys need only last as long as it does.)
    """
    node = _config().node
    action = request.get("action")
    key = request.get("key")
    if action == "send" and key is not None and not _first_delivery((id(node), str(key))):
        return {"error": None}
    sender_text = str(request.get("from") or "")
    sender = PID.parse(sender_text) if is_pid_text(sender_text) else None
    try:
        target = node.resolve(str(request.get("target")))
        if action == "send":
            payloads = tuple(codec.encode(value) for value in request.get("payloads") or ())
            if not node.deliver(target, (Signal.MSG, sender, str(request.get("topic")), payloads)):
                raise errors.Error(errors.NOT_FOUND, f"process {target} not found")
        elif action == "terminate":
            node.terminate(target)
        elif action == "cancel":
            node.cancel(target, request.get("deadline"), str(request.get("reason") or ""))
        else:
            raise errors.Error(errors.INVALID, f"unknown relay action {action!r}")
    except errors.Error as err:
        return {"error": err}
    return {"error": None}
