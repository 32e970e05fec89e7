"""Start options for workflows and activities, from the Lua option tables.

``process.with_options{["temporal.workflow.id"] = …}`` and
``funcs.new():with_options{["activity.retry_policy"] = …}`` carry plain
tables; this module turns them into temporalio arguments.  Every key is
checked: an unknown key or a bad value is an ``INVALID`` error that names it.
Durations are strings (``"5m"``) or milliseconds; enum strings are
case-insensitive, ``-`` and ``_`` alike.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from temporalio.common import RetryPolicy, WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.workflow import ParentClosePolicy

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
    other: dict[str, Any] = field(default_factory=dict)

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
        if key in ("id", "task_queue", "cron_schedule", "namespace", "summary"):
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
        elif key in ("details", "priority", "versioning_override", "versioning_intent"):
            parsed.other[key] = value
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
        elif key in ("disable_eager_execution", "priority"):
            continue  # accepted; temporalio decides these itself
        else:
            raise errors.Error(errors.INVALID, f"option {raw_key} is not supported")
    return parsed
