"""The worker configurations of this OS process, by namespace and task queue.

A workflow only knows its namespace and task queue (``workflow.info()``); this
module maps them to what the Lua workflow driver needs: the Lua code of
each workflow type, the PID parts (client and worker entry IDs), and the
queues of the other workers for child workflows.  The module is passed
through the workflow sandbox, so both sides see the same dictionary.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from actors import errors

__all__ = ["ActivitySpec", "WorkerConfig", "lookup", "register", "unregister"]


@dataclass(frozen=True)
class ActivitySpec:
    """A ``function.lua``/``process.lua`` entry with ``meta.temporal.activity.worker``."""

    worker_id: str
    """The only worker it is registered on."""
    task_queue: str
    """That worker's (prefixed) task queue: where calls from workflows are scheduled."""
    local: bool = False
    """``meta.temporal.activity.local``: calls are Temporal local activities."""


@dataclass
class WorkerConfig:
    client_id: str
    worker_id: str
    namespace: str
    task_queue: str
    workflows: dict[str, Any] = field(default_factory=dict)
    """Workflow type name → LuaCode."""
    entry_types: dict[str, str] = field(default_factory=dict)
    """Every workflow entry ID of the app → its Temporal type name."""
    worker_queues: dict[str, str] = field(default_factory=dict)
    """Every temporal.worker entry ID of the same client → its task queue."""
    activities: dict[str, ActivitySpec] = field(default_factory=dict)
    """Every entry of the app declared an activity (``meta.temporal.activity``) → where it runs.
    Entries not listed run on any worker, as the activity type of a ``funcs.call``."""
    task_budget: float | None = None
    """``worker_options.deadlock_detection_timeout``: the Lua watchdog's budget (None: the default)."""
    log_in_replay: bool = False
    """``worker_options.enable_logging_in_replay``: Lua logs are written while a history replays too."""
    node: Any = None
    """The node activities run function entries on."""
    process_host: str = ""
    """The process host function entries run on."""


_lock = threading.Lock()
_workers: dict[tuple[str, str], WorkerConfig] = {}


def register(config: WorkerConfig) -> None:
    key = (config.namespace, config.task_queue)
    with _lock:
        current = _workers.get(key)
        if current is not None and current is not config:
            raise errors.Error(
                errors.ALREADY_EXISTS,
                f"task queue {config.task_queue!r} in namespace {config.namespace!r} already has a worker "
                f"in this process ({current.worker_id})",
            )
        _workers[key] = config


def unregister(config: WorkerConfig) -> None:
    with _lock:
        if _workers.get((config.namespace, config.task_queue)) is config:
            del _workers[(config.namespace, config.task_queue)]


def lookup(namespace: str, task_queue: str, workflow_type: str | None = None) -> WorkerConfig | None:
    """The worker serving ``task_queue``; failing that (a replay runs on a queue
    of its own), the one registering ``workflow_type``."""
    config = _workers.get((namespace, task_queue))
    if config is not None or workflow_type is None:
        return config
    with _lock:
        for candidate in _workers.values():
            if workflow_type in candidate.workflows:
                return candidate
    return None
