"""Start options for workflows and activities, from the Lua option tables.

``process.with_options{["temporal.workflow.id"] = …}`` and
``funcs.new():with_options{["activity.retry_policy"] = …}`` carry plain
tables; this module turns them into temporalio arguments.  Every key is
checked: an unknown key or a bad value is an ``INVALID`` error that names it.
Durations are strings (``"5m"``) or milliseconds; enum strings are
case-insensitive, ``-`` and ``_`` alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from temporalio.common import (
    AutoUpgradeVersioningOverride,
    PinnedVersioningOverride,
    Priority,
    RetryPolicy,
    VersioningOverride,
    WorkerDeploymentVersion,
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)
from temporalio.workflow import ActivityCancellationType, ParentClosePolicy, VersioningIntent

from actors import errors
from actors.durations import duration_seconds
from temporal_bridge.search_attributes import typed_search_attributes

__all__ = ["ActivityOptions", "WorkflowOptions", "activity_options", "workflow_options"]

_WORKFLOW_PREFIXES = ("temporal.workflow.", "workflow.")
_ACTIVITY_PREFIXES = ("temporal.activity.", "activity.")


@dataclass
class WorkflowOptions:
    """Parsed ``temporal.workflow.*`` options."""

    id: str | None = None
    task_queue: str | None = None
    execution_timeout: timedelta | None = None
    run_timeout: timedelta | None = None
    task_timeout: timedelta | None = None
    id_conflict_policy: WorkflowIDConflictPolicy | None = None
    id_reuse_policy: WorkflowIDReusePolicy | None = None
    execution_error_when_already_started: bool = False
    retry_policy: RetryPolicy | None = None
    cron_schedule: str | None = None
    memo: dict[str, Any] | None = None
    search_attributes: dict[str, Any] | None = None
    enable_eager_start: bool = False
    start_delay: timedelta | None = None
    parent_close_policy: ParentClosePolicy | None = None
    wait_for_cancellation: bool = False
    namespace: str | None = None
    summary: str | None = None
    details: str | None = None
    priority: Priority | None = None
    versioning_override: VersioningOverride | None = None
    versioning_intent: VersioningIntent | None = None
    """Child workflows only (Temporal's own deprecation notwithstanding, passed on)."""

    def start_kwargs(self, workflow_id: str, task_queue: str) -> dict[str, Any]:
        """The arguments a client start and a child start share, as temporalio names them."""
        kwargs: dict[str, Any] = {
            "id": workflow_id,
            "task_queue": task_queue,
            "execution_timeout": self.execution_timeout,
            "run_timeout": self.run_timeout,
            "task_timeout": self.task_timeout,
            "retry_policy": self.retry_policy,
            "cron_schedule": self.cron_schedule or "",
            "memo": self.memo,
        }
        if self.id_reuse_policy is not None:
            kwargs["id_reuse_policy"] = self.id_reuse_policy
        if self.search_attributes:
            kwargs["search_attributes"] = typed_search_attributes(self.search_attributes)
        if self.summary is not None:
            kwargs["static_summary"] = self.summary
        if self.details is not None:
            kwargs["static_details"] = self.details
        if self.priority is not None:
            kwargs["priority"] = self.priority
        if self.versioning_override is not None:
            kwargs["versioning_override"] = self.versioning_override
        return kwargs


@dataclass
class ActivityOptions:
    """Parsed ``activity.*`` options with the runtime's defaults."""

    activity_id: str | None = None
    task_queue: str | None = None
    schedule_to_close_timeout: timedelta | None = None
    schedule_to_start_timeout: timedelta | None = None
    start_to_close_timeout: timedelta | None = timedelta(minutes=10)
    heartbeat_timeout: timedelta | None = None
    retry_policy: RetryPolicy | None = None
    wait_for_cancellation: bool = False
    summary: str | None = None
    priority: Priority | None = None

    @property
    def cancellation_type(self) -> ActivityCancellationType:
        """``wait_for_cancellation``: a canceled call returns once the activity has stopped."""
        if self.wait_for_cancellation:
            return ActivityCancellationType.WAIT_CANCELLATION_COMPLETED
        return ActivityCancellationType.TRY_CANCEL


def _key(raw: str, prefixes: tuple[str, ...]) -> str | None:
    for prefix in prefixes:
        if raw.startswith(prefix):
            return raw[len(prefix) :]
    return None


def _duration(name: str, value: Any) -> timedelta:
    try:
        seconds = duration_seconds(value, number_unit=1e-3, what=name)
    except errors.Error as err:
        raise errors.Error(errors.INVALID, f"option {name}: {err.message()}") from None
    if seconds < 0:
        raise errors.Error(errors.INVALID, f"option {name}: must not be negative")
    return timedelta(seconds=seconds)


def _enum(name: str, value: Any, choices: dict[str, Any]) -> Any:
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise errors.Error(errors.INVALID, f"option {name}: expected one of {', '.join(choices)}")
    if isinstance(value, int):
        for member in choices.values():
            if int(member) == value:
                return member
        raise errors.Error(errors.INVALID, f"option {name}: unknown value {value}")
    normalized = value.lower().replace("-", "_")
    for prefix in ("workflow_id_conflict_policy_", "workflow_id_reuse_policy_", "parent_close_policy_"):
        if normalized.startswith(prefix):
            normalized = normalized[len(prefix) :]
    if normalized not in choices:
        raise errors.Error(errors.INVALID, f"option {name}: {value!r} is not one of {', '.join(choices)}")
    return choices[normalized]


def _string(name: str, value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise errors.Error(errors.INVALID, f"option {name}: expected a non-empty string")
    return value


def _boolean(name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise errors.Error(errors.INVALID, f"option {name}: expected true or false")
    return value


def _table(name: str, value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise errors.Error(errors.INVALID, f"option {name}: expected a table")
    return value


_CONFLICT = {
    "use_existing": WorkflowIDConflictPolicy.USE_EXISTING,
    "fail": WorkflowIDConflictPolicy.FAIL,
    "terminate_existing": WorkflowIDConflictPolicy.TERMINATE_EXISTING,
}
_REUSE = {
    "allow_duplicate": WorkflowIDReusePolicy.ALLOW_DUPLICATE,
    "allow_duplicate_failed_only": WorkflowIDReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
    "reject_duplicate": WorkflowIDReusePolicy.REJECT_DUPLICATE,
    "terminate_if_running": WorkflowIDReusePolicy.TERMINATE_IF_RUNNING,
}
_PARENT_CLOSE = {
    "terminate": ParentClosePolicy.TERMINATE,
    "abandon": ParentClosePolicy.ABANDON,
    "request_cancel": ParentClosePolicy.REQUEST_CANCEL,
}
_INTENT = {"compatible": VersioningIntent.COMPATIBLE, "default": VersioningIntent.DEFAULT}


def _priority(name: str, value: Any) -> Priority:
    """``priority``: a priority key (1 is the highest), or ``{priority_key, fairness_key, fairness_weight}``."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = {"priority_key": value}
    if not isinstance(value, dict):
        raise errors.Error(errors.INVALID, f"option {name}: expected a priority key or a table")
    fields: dict[str, Any] = {}
    for key, item in value.items():
        label = f"{name}.{key}"
        if key == "priority_key":
            if isinstance(item, bool) or not isinstance(item, int) or item < 1:
                raise errors.Error(errors.INVALID, f"option {label}: expected a positive integer")
        elif key == "fairness_key":
            item = _string(label, item)
        elif key == "fairness_weight":
            if isinstance(item, bool) or not isinstance(item, (int, float)) or item <= 0:
                raise errors.Error(errors.INVALID, f"option {label}: expected a positive number")
            item = float(item)
        else:
            raise errors.Error(errors.INVALID, f"option {label} is not supported")
        fields[key] = item
    return Priority(**fields)


def _versioning_override(name: str, value: Any) -> VersioningOverride:
    """``"auto_upgrade"``, or ``{behavior = "pinned", deployment_name = …, build_id = …}``."""
    table = {"behavior": value} if isinstance(value, str) else value
    if not isinstance(table, dict):
        raise errors.Error(errors.INVALID, f"option {name}: expected auto_upgrade or a table")
    behavior = str(table.get("behavior", "")).lower().replace("-", "_")
    if behavior == "auto_upgrade" and set(table) <= {"behavior"}:
        return AutoUpgradeVersioningOverride()
    if behavior == "pinned" and set(table) <= {"behavior", "deployment_name", "build_id"}:
        deployment = _string(f"{name}.deployment_name", table.get("deployment_name"))
        build = _string(f"{name}.build_id", table.get("build_id"))
        return PinnedVersioningOverride(WorkerDeploymentVersion(deployment, build))
    raise errors.Error(
        errors.INVALID,
        f'option {name}: expected auto_upgrade or {{behavior = "pinned", deployment_name = …, build_id = …}}',
    )


_RETRY_KEYS = {
    "initial_interval": "initial_interval",
    "initialinterval": "initial_interval",
    "backoff_coefficient": "backoff_coefficient",
    "backoffcoefficient": "backoff_coefficient",
    "maximum_interval": "maximum_interval",
    "maximuminterval": "maximum_interval",
    "maximum_attempts": "maximum_attempts",
    "maximumattempts": "maximum_attempts",
    "non_retryable_error_types": "non_retryable_error_types",
    "nonretryableerrortypes": "non_retryable_error_types",
}


def retry_policy(name: str, value: Any) -> RetryPolicy:
    """A RetryPolicy from ``{initial_interval, backoff_coefficient, maximum_interval, …}``."""
    table = _table(name, value)
    policy = RetryPolicy()
    for raw_key, item in table.items():
        key = _RETRY_KEYS.get(str(raw_key).replace("_", "").lower()) or _RETRY_KEYS.get(str(raw_key))
        if key is None:
            raise errors.Error(errors.INVALID, f"option {name}.{raw_key} is not supported")
        label = f"{name}.{raw_key}"
        if key in ("initial_interval", "maximum_interval"):
            setattr(policy, key, _duration(label, item))
        elif key == "backoff_coefficient":
            if isinstance(item, bool) or not isinstance(item, (int, float)) or item < 1:
                raise errors.Error(errors.INVALID, f"option {label}: expected a number ≥ 1")
            policy.backoff_coefficient = float(item)
        elif key == "maximum_attempts":
            if isinstance(item, bool) or not isinstance(item, int) or item < 0:
                raise errors.Error(errors.INVALID, f"option {label}: expected a non-negative integer")
            policy.maximum_attempts = item
        else:
            if not isinstance(item, list) or not all(isinstance(kind, str) for kind in item):
                raise errors.Error(errors.INVALID, f"option {label}: expected a list of error kinds")
            # Kinds in any spelling ("Invalid", Wippy's, or errors.INVALID): a failure's type is the constant.
            policy.non_retryable_error_types = [errors.canonical_kind(kind) for kind in item]
    return policy


def workflow_options(options: dict[str, Any] | None) -> WorkflowOptions:
    """Parse the workflow keys of a spawner's options; other namespaces' keys are ignored."""
    parsed = WorkflowOptions()
    canonical_seen: set[str] = set()
    for raw_key in sorted((options or {}).keys(), key=lambda key: not str(key).startswith("workflow.")):
        key = _key(str(raw_key), _WORKFLOW_PREFIXES)
        if key is None:
            continue
        if key in canonical_seen:
            continue  # the canonical ``workflow.x`` spelling wins over ``temporal.workflow.x``
        canonical_seen.add(key)
        value = options[raw_key]  # type: ignore[index]
        name = f"temporal.workflow.{key}"
        if key in ("id", "task_queue", "cron_schedule", "namespace", "summary", "details"):
            setattr(parsed, key, _string(name, value))
        elif key in ("execution_timeout", "run_timeout", "task_timeout", "start_delay"):
            setattr(parsed, key, _duration(name, value))
        elif key == "id_conflict_policy":
            parsed.id_conflict_policy = _enum(name, value, _CONFLICT)
        elif key == "id_reuse_policy":
            parsed.id_reuse_policy = _enum(name, value, _REUSE)
        elif key in ("execution_error_when_already_started", "enable_eager_start", "wait_for_cancellation"):
            setattr(parsed, key, _boolean(name, value))
        elif key == "retry_policy":
            parsed.retry_policy = retry_policy(name, value)
        elif key == "memo":
            parsed.memo = _table(name, value)
        elif key in ("search_attributes", "typed_search_attributes"):
            parsed.search_attributes = _table(name, value)
        elif key == "parent_close_policy":
            parsed.parent_close_policy = _enum(name, value, _PARENT_CLOSE)
        elif key == "priority":
            parsed.priority = _priority(name, value)
        elif key == "versioning_override":
            parsed.versioning_override = _versioning_override(name, value)
        elif key == "versioning_intent":
            parsed.versioning_intent = _enum(name, value, _INTENT)
        else:
            raise errors.Error(errors.INVALID, f"option {raw_key} is not supported")
    return parsed


def activity_options(options: dict[str, Any] | None) -> ActivityOptions:
    """Parse ``activity.*`` keys of an executor's options (others are ignored)."""
    parsed = ActivityOptions()
    for raw_key, value in (options or {}).items():
        key = _key(str(raw_key), _ACTIVITY_PREFIXES)
        if key is None:
            continue
        name = f"activity.{key}"
        if key == "id":
            parsed.activity_id = _string(name, value)
        elif key in ("task_queue", "summary"):
            setattr(parsed, key, _string(name, value))
        elif key in (
            "schedule_to_close_timeout",
            "schedule_to_start_timeout",
            "start_to_close_timeout",
            "heartbeat_timeout",
        ):
            setattr(parsed, key, _duration(name, value))
        elif key == "retry_policy":
            parsed.retry_policy = retry_policy(name, value)
        elif key == "wait_for_cancellation":
            parsed.wait_for_cancellation = _boolean(name, value)
        elif key == "priority":
            parsed.priority = _priority(name, value)
        elif key == "disable_eager_execution":
            if _boolean(name, value):
                raise errors.Error(
                    errors.INVALID,
                    f"option {raw_key}: the Python SDK decides eager execution per worker, not per call "
                    "(set worker_options.disable_eager_activities on the temporal.worker)",
                )
        else:
            raise errors.Error(errors.INVALID, f"option {raw_key} is not supported")
    return parsed
