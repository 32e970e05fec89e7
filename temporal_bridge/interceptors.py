"""Interceptors that carry context and signal senders in Temporal headers.

* client side: ``start_workflow`` (and signal-with-start) and
  ``signal_workflow`` add the headers set in :data:`_context.OUTGOING`;
* workflow side: the workflow's headers are kept for the driver, each
  signal's sender is exposed while its handler runs, and activities, child
  workflows, external signals and the next run (continue-as-new) started by
  the workflow get headers too;
* activity side: the context header becomes :data:`_context.ACTIVITY_CONTEXT`.
"""

from __future__ import annotations

import contextvars
from typing import Any, NoReturn

from temporalio import client as temporal_client
from temporalio import worker as temporal_worker
from temporalio import workflow

from temporal_bridge._context import (
    ACTIVITY_CONTEXT,
    CONTEXT_HEADER,
    FROM_HEADER,
    OUTGOING,
    decode_headers,
    encode_headers,
)

__all__ = ["SIGNAL_SENDER", "WORKFLOW_HEADERS", "ActorflowInterceptor"]

SIGNAL_SENDER: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "actorflow_signal_sender", default=None
)
"""The sender of the signal whose handler is running (``""`` when unknown)."""

WORKFLOW_HEADERS: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar(
    "actorflow_workflow_headers", default=None
)


class _ClientOutbound(temporal_client.OutboundInterceptor):
    async def start_workflow(self, input: temporal_client.StartWorkflowInput) -> Any:
        # With signal-with-start the same headers reach the first signal, so
        # the start message's sender is the spawner, as the spec says.
        input.headers = encode_headers(OUTGOING.get(), input.headers)
        return await super().start_workflow(input)

    async def signal_workflow(self, input: temporal_client.SignalWorkflowInput) -> None:
        input.headers = encode_headers(_sender_only(OUTGOING.get()), input.headers)
        await super().signal_workflow(input)


def _sender_only(values: dict[str, Any] | None) -> dict[str, Any] | None:
    if not values or FROM_HEADER not in values:
        return None
    return {FROM_HEADER: values[FROM_HEADER]}


def _context_only(values: dict[str, Any] | None) -> dict[str, Any] | None:
    if not values or CONTEXT_HEADER not in values:
        return None
    return {CONTEXT_HEADER: values[CONTEXT_HEADER]}


class _WorkflowOutbound(temporal_worker.WorkflowOutboundInterceptor):
    def start_activity(self, input: temporal_worker.StartActivityInput) -> workflow.ActivityHandle[Any]:
        input.headers = encode_headers(_context_only(OUTGOING.get()), input.headers)
        return super().start_activity(input)

    def start_local_activity(
        self, input: temporal_worker.StartLocalActivityInput
    ) -> workflow.ActivityHandle[Any]:
        input.headers = encode_headers(_context_only(OUTGOING.get()), input.headers)
        return super().start_local_activity(input)

    async def start_child_workflow(
        self, input: temporal_worker.StartChildWorkflowInput
    ) -> workflow.ChildWorkflowHandle[Any, Any]:
        input.headers = encode_headers(OUTGOING.get(), input.headers)
        return await super().start_child_workflow(input)

    async def signal_external_workflow(self, input: temporal_worker.SignalExternalWorkflowInput) -> None:
        input.headers = encode_headers(_sender_only(OUTGOING.get()), input.headers)
        await super().signal_external_workflow(input)

    async def signal_child_workflow(self, input: temporal_worker.SignalChildWorkflowInput) -> None:
        input.headers = encode_headers(_sender_only(OUTGOING.get()), input.headers)
        await super().signal_child_workflow(input)

    def continue_as_new(self, input: temporal_worker.ContinueAsNewInput) -> NoReturn:
        # process.upgrade: the next run keeps the workflow's context (spec §12.7).
        input.headers = encode_headers(_context_only(OUTGOING.get()), input.headers)
        super().continue_as_new(input)


class _WorkflowInbound(temporal_worker.WorkflowInboundInterceptor):
    def init(self, outbound: temporal_worker.WorkflowOutboundInterceptor) -> None:
        super().init(_WorkflowOutbound(outbound))

    async def execute_workflow(self, input: temporal_worker.ExecuteWorkflowInput) -> Any:
        WORKFLOW_HEADERS.set(decode_headers(input.headers))
        return await super().execute_workflow(input)

    async def handle_signal(self, input: temporal_worker.HandleSignalInput) -> None:
        sender = decode_headers(input.headers).get(FROM_HEADER)
        token = SIGNAL_SENDER.set(sender if isinstance(sender, str) else "")
        try:
            await super().handle_signal(input)
        finally:
            SIGNAL_SENDER.reset(token)


class _ActivityInbound(temporal_worker.ActivityInboundInterceptor):
    async def execute_activity(self, input: temporal_worker.ExecuteActivityInput) -> Any:
        context = decode_headers(input.headers).get(CONTEXT_HEADER)
        ACTIVITY_CONTEXT.set(context if isinstance(context, dict) else {})
        return await super().execute_activity(input)


class ActorflowInterceptor(temporal_client.Interceptor, temporal_worker.Interceptor):
    """One interceptor for the client and its workers (pass it to ``Client.connect``)."""

    def intercept_client(
        self, next: temporal_client.OutboundInterceptor
    ) -> temporal_client.OutboundInterceptor:
        return _ClientOutbound(next)

    def intercept_activity(
        self, next: temporal_worker.ActivityInboundInterceptor
    ) -> temporal_worker.ActivityInboundInterceptor:
        return _ActivityInbound(next)

    def workflow_interceptor_class(
        self, input: temporal_worker.WorkflowInterceptorClassInput
    ) -> type[temporal_worker.WorkflowInboundInterceptor]:
        return _WorkflowInbound
