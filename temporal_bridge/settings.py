"""Every setting of a ``temporal.client`` and a ``temporal.worker``: what it does, or why not.

No setting is ignored.  Each key the spec lists either reaches temporalio
(or the bridge's own machinery: the Lua watchdog, the replay logger, the
health check) or is refused when the app is checked, with the entry's file
and line and the reason (``actorflow check`` says so, and an app with such a
setting does not start).  Keys nobody knows are refused the same way.

* ``worker_options`` (:data:`WORKER_OPTIONS`, :data:`REFUSED_WORKER_OPTIONS`):
  Wippy takes the Go SDK's ``worker.Options`` names; each maps to the Python
  SDK's ``Worker`` argument of the same meaning.
* client fields (:data:`CLIENT_FIELDS`): ``keep_alive_time`` and
  ``keep_alive_timeout`` become temporalio's ``KeepAliveConfig``;
  ``health_check`` runs :class:`HealthCheck`.
* ``lifecycle``: a client and a worker are started once, in a fixed order
  (clients, then workers), and never restarted (the SDK reconnects and
  re-polls by itself), so of the lifecycle block a client honours
  ``auto_start: true`` and a worker ``auto_start`` and ``stop_timeout``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from actors import errors
from actors.durations import duration_seconds

__all__ = [
    "CLIENT_FIELDS",
    "REFUSED_WORKER_OPTIONS",
    "WORKER_OPTIONS",
    "HealthCheck",
    "WorkerSettings",
    "client_problems",
    "keep_alive",
    "lifecycle_problems",
    "worker_option_problems",
    "worker_settings",
]

logger = logging.getLogger("temporal_bridge.health")

DEADLOCK_DETECTOR = 2.0
"""Seconds after which the Python SDK's own deadlock detector fails a workflow task (fixed)."""


@dataclass(frozen=True)
class _Option:
    kind: str  # "count", "rate", "duration", "text", "flag"
    target: str | None = None
    """The temporalio ``Worker`` argument, when it is one."""


WORKER_OPTIONS: Mapping[str, _Option] = {
    "max_concurrent_activity_execution_size": _Option("count", "max_concurrent_activities"),
    "max_concurrent_workflow_task_execution_size": _Option("count", "max_concurrent_workflow_tasks"),
    "max_concurrent_local_activity_execution_size": _Option("count", "max_concurrent_local_activities"),
    "max_concurrent_workflow_task_pollers": _Option("count", "max_concurrent_workflow_task_polls"),
    "max_concurrent_activity_task_pollers": _Option("count", "max_concurrent_activity_task_polls"),
    "worker_activities_per_second": _Option("rate", "max_activities_per_second"),
    "max_activities_per_second": _Option("rate", "max_activities_per_second"),
    "task_queue_activities_per_second": _Option("rate", "max_task_queue_activities_per_second"),
    "max_task_queue_activities_per_second": _Option("rate", "max_task_queue_activities_per_second"),
    "sticky_schedule_to_start_timeout": _Option("duration", "sticky_queue_schedule_to_start_timeout"),
    "worker_stop_timeout": _Option("duration", "graceful_shutdown_timeout"),
    "max_heartbeat_throttle_interval": _Option("duration", "max_heartbeat_throttle_interval"),
    "default_heartbeat_throttle_interval": _Option("duration", "default_heartbeat_throttle_interval"),
    "identity": _Option("text", "identity"),
    "disable_eager_activities": _Option("flag", "disable_eager_activity_execution"),
    "local_activity_worker_only": _Option("flag", "no_remote_activities"),
    # The bridge's own: the Lua watchdog, the workflow logger, the worker's workflows.
    "deadlock_detection_timeout": _Option("duration"),
    "enable_logging_in_replay": _Option("flag"),
    "disable_workflow_worker": _Option("flag"),
    # Every workflow and activity has one registered name (its entry ID or meta name): no alias.
    "disable_registration_aliasing": _Option("flag"),
    # Worker versioning (a worker deployment version, or a plain build ID).
    "use_versioning": _Option("flag"),
    "deployment_name": _Option("text"),
    "build_id": _Option("text"),
    "default_versioning_behavior": _Option("text"),
}
"""The ``worker_options`` keys that work, and how."""

REFUSED_WORKER_OPTIONS: Mapping[str, str] = {
    "enable_session_worker": "the Python SDK has no sessions (pin work to one worker with its own task queue)",
    "max_concurrent_session_execution_size": "the Python SDK has no sessions",
    "session_resource_id": "the Python SDK has no sessions",
    "worker_local_activities_per_second": "the Python SDK has no rate limit for local activities",
    "max_concurrent_eager_activity_execution_size": (
        "the Python SDK limits eager activities per workflow task, not per worker"
    ),
}
"""Go SDK options the Python SDK cannot honour: refused, with the reason."""

_VERSIONING_BEHAVIORS = ("pinned", "auto_upgrade")


def worker_option_problems(options: Any) -> list[str]:
    """What is wrong with a worker's ``worker_options`` (each message names the key)."""
    if options is None:
        return []
    if not isinstance(options, dict):
        return ["worker_options must be a mapping"]
    messages = []
    for key, value in options.items():
        name = f"worker_options.{key}"
        refused = REFUSED_WORKER_OPTIONS.get(key)
        if refused is not None:
            if value not in (False, None, 0):
                messages.append(f"{name} is not supported: {refused}")
            continue
        option = WORKER_OPTIONS.get(key)
        if option is None:
            messages.append(f"{name} is not a worker option (see docs/workflows.md, Settings)")
            continue
        problem = _value_problem(name, option.kind, value)
        if problem:
            messages.append(problem)
    if not messages:
        messages.extend(_combination_problems(options))
    return messages


def _value_problem(name: str, kind: str, value: Any) -> str | None:
    if kind == "count":
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            return f"{name} must be a positive integer"
    elif kind == "rate":
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
            return f"{name} must be a positive number (per second)"
    elif kind == "duration":
        return _duration_problem(name, value)
    elif kind == "text":
        if not isinstance(value, str) or not value:
            return f"{name} must be a non-empty string"
    elif kind == "flag" and not isinstance(value, bool):
        return f"{name} must be true or false"
    return None


def _duration_problem(name: str, value: Any) -> str | None:
    try:
        seconds = duration_seconds(value, what=name)
    except errors.Error as err:
        message = err.message()
        return message if message.startswith(name) else f"{name}: {message}"
    return f"{name} must be positive" if seconds <= 0 else None


def _combination_problems(options: dict[str, Any]) -> list[str]:
    messages = []
    watchdog = options.get("deadlock_detection_timeout")
    if watchdog is not None and duration_seconds(watchdog) >= DEADLOCK_DETECTOR:
        messages.append(
            "worker_options.deadlock_detection_timeout must be below 2s: the Python SDK's own deadlock "
            "detector fails a workflow task after 2 s; below that, actorflow's Lua watchdog stops the "
            "task's Lua code at this timeout"
        )
    behavior = options.get("default_versioning_behavior")
    if behavior is not None and str(behavior).lower().replace("-", "_") not in _VERSIONING_BEHAVIORS:
        messages.append("worker_options.default_versioning_behavior must be pinned or auto_upgrade")
    if options.get("use_versioning"):
        if not (options.get("deployment_name") and options.get("build_id")):
            messages.append("worker_options.use_versioning needs deployment_name and build_id")
    elif behavior is not None:
        messages.append("worker_options.default_versioning_behavior applies only with use_versioning: true")
    if options.get("deployment_name") and not options.get("build_id"):
        messages.append("worker_options.deployment_name needs build_id (a worker deployment version)")
    if options.get("disable_workflow_worker") and options.get("local_activity_worker_only"):
        messages.append(
            "worker_options.disable_workflow_worker and local_activity_worker_only together leave the "
            "worker nothing to run"
        )
    return messages


@dataclass
class WorkerSettings:
    """What a worker's ``worker_options`` come to."""

    kwargs: dict[str, Any]
    """Arguments for temporalio's ``Worker``."""
    workflows: bool = True
    """False with ``disable_workflow_worker``: the worker runs activities only."""
    task_budget: float | None = None
    """``deadlock_detection_timeout``: the Lua watchdog's budget per workflow task round."""
    log_in_replay: bool = False


def worker_settings(options: Any) -> WorkerSettings:
    """Map ``worker_options`` (checked by :func:`worker_option_problems`) to temporalio."""
    problems = worker_option_problems(options)
    if problems:
        raise errors.Error(errors.INVALID, "; ".join(problems))
    options = dict(options or {})
    settings = WorkerSettings(kwargs={})
    for key, value in options.items():
        option = WORKER_OPTIONS.get(key)
        if option is None or option.target is None:
            continue  # a refused option set to its default, or one handled below
        if option.kind == "duration":
            value = timedelta(seconds=duration_seconds(value, what=f"worker_options.{key}"))
        elif option.kind == "rate":
            value = float(value)
        settings.kwargs[option.target] = value
    if options.get("deadlock_detection_timeout") is not None:
        settings.task_budget = duration_seconds(options["deadlock_detection_timeout"])
    settings.log_in_replay = bool(options.get("enable_logging_in_replay"))
    settings.workflows = not options.get("disable_workflow_worker")
    build_id = options.get("build_id")
    if options.get("use_versioning") or (build_id and options.get("deployment_name")):
        from temporalio.common import VersioningBehavior, WorkerDeploymentVersion
        from temporalio.worker import WorkerDeploymentConfig

        behavior = str(options.get("default_versioning_behavior") or "").lower().replace("-", "_")
        settings.kwargs["deployment_config"] = WorkerDeploymentConfig(
            version=WorkerDeploymentVersion(str(options["deployment_name"]), str(build_id)),
            use_worker_versioning=bool(options.get("use_versioning")),
            default_versioning_behavior={
                "pinned": VersioningBehavior.PINNED,
                "auto_upgrade": VersioningBehavior.AUTO_UPGRADE,
            }.get(behavior, VersioningBehavior.UNSPECIFIED),
        )
    elif build_id:
        settings.kwargs["build_id"] = str(build_id)
    return settings


# -- clients ---------------------------------------------------------------------------------------

CLIENT_FIELDS = frozenset(
    {
        "address",
        "namespace",
        "tq_prefix",
        "connection_timeout",
        "keep_alive_time",
        "keep_alive_timeout",
        "auth",
        "tls",
        "health_check",
        "lifecycle",
        # actorflow's own: the embedded servers
        "server",
        "search_attributes",
        "sqlite_pragmas",
    }
)
_AUTH_FIELDS = frozenset(
    {
        "type",
        "api_key",
        "api_key_file",
        "api_key_env",
        "cert_file",
        "cert_pem",
        "key_file",
        "key_pem",
        "key_pem_env",
    }
)
_TLS_FIELDS = frozenset({"enabled", "ca_file", "server_name", "insecure_skip_verify"})

KEEP_ALIVE_TIME = "30s"
KEEP_ALIVE_TIMEOUT = "10s"
HEALTH_CHECK_INTERVAL = 30.0
"""The spec's defaults (numbers in YAML durations are milliseconds)."""


def client_problems(data: Mapping[str, Any]) -> list[str]:
    """What is wrong with a client's fields beyond their own checks: unknown and refused ones."""
    messages = [
        f"{key!r} is not a temporal.client setting ({', '.join(sorted(CLIENT_FIELDS))})"
        for key in data
        if key not in CLIENT_FIELDS and key not in ("name", "kind")
    ]
    prefix = data.get("tq_prefix")
    if prefix is not None and not isinstance(prefix, str):
        messages.append("tq_prefix must be a string")
    for key in ("connection_timeout", "keep_alive_time", "keep_alive_timeout"):
        if data.get(key) is not None:
            problem = _duration_problem(key, data[key])
            if problem:
                messages.append(problem)
    auth = data.get("auth")
    if isinstance(auth, dict):
        messages.extend(f"auth.{key} is not an auth setting" for key in auth if key not in _AUTH_FIELDS)
    tls = data.get("tls")
    if isinstance(tls, dict):
        messages.extend(f"tls.{key} is not a tls setting" for key in tls if key not in _TLS_FIELDS)
        if tls.get("insecure_skip_verify"):
            messages.append(
                "tls.insecure_skip_verify is not supported (temporalio always verifies the server): "
                "give the server's CA in tls.ca_file"
            )
    health = data.get("health_check")
    if health is not None:
        if not isinstance(health, dict):
            messages.append("health_check must be a mapping (enabled, interval)")
        else:
            messages.extend(
                f"health_check.{key} is not a health_check setting (enabled, interval)"
                for key in health
                if key not in ("enabled", "interval")
            )
            if "enabled" in health and not isinstance(health["enabled"], bool):
                messages.append("health_check.enabled must be true or false")
            if health.get("interval") is not None:
                problem = _duration_problem("health_check.interval", health["interval"])
                if problem:
                    messages.append(problem)
    return messages


def keep_alive(data: Mapping[str, Any]) -> Any:
    """temporalio's ``KeepAliveConfig`` from ``keep_alive_time`` / ``keep_alive_timeout`` (30s / 10s)."""
    from temporalio.client import KeepAliveConfig

    interval = duration_seconds(data.get("keep_alive_time", KEEP_ALIVE_TIME), what="keep_alive_time")
    timeout = duration_seconds(data.get("keep_alive_timeout", KEEP_ALIVE_TIMEOUT), what="keep_alive_timeout")
    return KeepAliveConfig(interval_millis=round(interval * 1000), timeout_millis=round(timeout * 1000))


def lifecycle_problems(entry_data: Mapping[str, Any], kind: str, honoured: tuple[str, ...]) -> list[str]:
    """Lifecycle keys a client or worker does not honour (``auto_start: true`` is always fine)."""
    lifecycle = entry_data.get("lifecycle")
    if not isinstance(lifecycle, dict):
        return []
    messages = []
    kept = ", ".join(honoured if "auto_start" in honoured else ("auto_start: true", *honoured))
    for key, value in lifecycle.items():
        if key in honoured or (key == "auto_start" and value is True):
            continue
        messages.append(
            f"lifecycle.{key} is not supported on a {kind}: it is started once when the app starts "
            f"(clients, then workers) and never restarted (the SDK reconnects by itself); "
            f"a {kind} honours {kept}"
        )
    return messages


class HealthCheck:
    """``health_check: {enabled: true, interval}``: ask the server every ``interval`` seconds.

    The first failure is logged as a warning and the recovery as info;
    :attr:`healthy` tells the last answer (``None`` before the first).
    """

    def __init__(self, client_id: str, check: Callable[[], Awaitable[bool]], interval: float) -> None:
        self.client_id = client_id
        self.check = check
        self.interval = interval
        self.healthy: bool | None = None
        self.checks = 0

    async def run(self) -> None:
        while True:
            try:
                ok = bool(await asyncio.wait_for(self.check(), self.interval))
                reason = "the server reports it is not serving"
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                ok, reason = False, f"{type(exc).__name__}: {exc}"
            self.checks += 1
            if not ok and self.healthy is not False:
                logger.warning("temporal.client %s: health check failed: %s", self.client_id, reason)
            elif ok and self.healthy is False:
                logger.info("temporal.client %s: healthy again", self.client_id)
            self.healthy = ok
            await asyncio.sleep(self.interval)
