"""Errors across Temporal: the same kind, message and retryability on both sides.

An :class:`~actors.errors.Error` leaves a workflow or an activity as an
``ApplicationError`` whose *type* is the kind, *non_retryable* is
``retryable() is False``, and whose details carry the rest.  Whatever
Temporal reports back (activity, child workflow or workflow failures,
terminations, cancellations, timeouts, unknown workflows) is turned into an
``Error`` again.
"""

from __future__ import annotations

from typing import Any

from temporalio.client import (
    RPCTimeoutOrCancelledError,
    WorkflowFailureError,
    WorkflowQueryFailedError,
    WorkflowQueryRejectedError,
    WorkflowUpdateFailedError,
)
from temporalio.exceptions import (
    ActivityError,
    ApplicationError,
    CancelledError,
    ChildWorkflowError,
    TerminatedError,
    TimeoutError,
    WorkflowAlreadyStartedError,
)
from temporalio.service import RPCError, RPCStatusCode

from actors import errors

__all__ = ["from_failure", "to_application_error"]

TERMINATED_MESSAGE = "workflow terminated"
CANCELED_MESSAGE = "operation canceled"


def to_application_error(err: errors.Error) -> ApplicationError:
    """The failure a workflow or activity ends with for ``err``."""
    extra = {"retryable": err.retryable(), "details": err.details()}
    return ApplicationError(
        err.message(), extra, type=err.kind() or errors.INTERNAL, non_retryable=err.retryable() is False
    )


def _from_application(failure: ApplicationError, wrapper: dict[str, Any]) -> errors.Error:
    retryable: bool | None = not failure.non_retryable
    details: dict[str, Any] | None = None
    if failure.details:
        extra = failure.details[0]
        if isinstance(extra, dict) and "retryable" in extra:
            retryable = extra.get("retryable")
            details = extra.get("details")
            if retryable is None and wrapper.get("_wrapper") == "activity" and not failure.non_retryable:
                retryable = True  # an activity's error Temporal retries (as it did) is retryable
    if wrapper:
        details = {**(details or {}), **wrapper}
    return errors.Error(
        failure.type or errors.INTERNAL, failure.message, retryable=retryable, details=details
    )


def _from_query_failure(message: str) -> errors.Error:
    """A query's failure comes back as its message only; an unknown query is ``NOT_FOUND``."""
    if message.startswith("unknown query") or "no handler" in message or "not found" in message:
        return errors.Error(errors.NOT_FOUND, message, retryable=False)
    return errors.Error(errors.INVALID, message, retryable=False)


def from_failure(exc: BaseException) -> errors.Error:
    """An ``Error`` for anything temporalio raises about an activity or a workflow."""
    wrapper: dict[str, Any] = {}
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, errors.Error):
            return cause
        if isinstance(cause, ActivityError):
            wrapper.update(
                _wrapper="activity",
                _activity_id=cause.activity_id,
                _activity_type=cause.activity_type,
                _retry_state=int(cause.retry_state or 0),
            )
        elif isinstance(cause, ChildWorkflowError):
            wrapper.update(
                _wrapper="child_workflow",
                _workflow_id=cause.workflow_id,
                _workflow_type=cause.workflow_type,
                _run_id=cause.run_id,
                _retry_state=int(cause.retry_state or 0),
            )
        elif isinstance(cause, ApplicationError):
            if (
                cause.type
                in ("ActivityNotRegisteredError", "NotFoundError", "ExternalWorkflowExecutionNotFound")
                or "not registered" in cause.message
            ):
                return errors.Error(errors.NOT_FOUND, cause.message, retryable=False, details=wrapper or None)
            return _from_application(cause, wrapper)
        elif isinstance(cause, TerminatedError):
            return errors.Error(errors.CANCELED, TERMINATED_MESSAGE, retryable=False, details=wrapper or None)
        elif isinstance(cause, CancelledError):
            return errors.Error(errors.CANCELED, CANCELED_MESSAGE, retryable=False, details=wrapper or None)
        elif isinstance(cause, TimeoutError):
            details = {**wrapper, "timeout_type": getattr(cause.type, "name", str(cause.type))}
            return errors.Error(errors.TIMEOUT, cause.message or "timed out", retryable=True, details=details)
        elif isinstance(cause, WorkflowAlreadyStartedError):
            return errors.Error(
                errors.ALREADY_EXISTS,
                f"workflow {cause.workflow_id} already started",
                retryable=False,
                details={"workflow_id": cause.workflow_id, "run_id": getattr(cause, "run_id", None)},
            )
        elif isinstance(cause, RPCError):
            if cause.status == RPCStatusCode.NOT_FOUND:
                return errors.Error(errors.NOT_FOUND, cause.message, retryable=False)
            if cause.status == RPCStatusCode.ALREADY_EXISTS:
                return errors.Error(errors.ALREADY_EXISTS, cause.message, retryable=False)
            if cause.status == RPCStatusCode.INVALID_ARGUMENT:
                return errors.Error(errors.INVALID, cause.message, retryable=False)
            return errors.Error(errors.UNAVAILABLE, cause.message, retryable=True)
        elif isinstance(cause, WorkflowQueryFailedError):
            return _from_query_failure(cause.message)
        elif isinstance(cause, WorkflowQueryRejectedError):
            return errors.Error(errors.INVALID, str(cause), retryable=False)
        elif isinstance(cause, RPCTimeoutOrCancelledError):
            return errors.Error(errors.TIMEOUT, str(cause), retryable=True)
        elif not isinstance(cause, (WorkflowFailureError, WorkflowUpdateFailedError)):
            break
        cause = cause.__cause__
    return errors.from_exception(exc)
