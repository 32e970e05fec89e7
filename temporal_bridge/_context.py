"""What travels beside a workflow's arguments: its context and a signal's sender.

Both go in Temporal *headers*, never in the arguments, so workflows started
or signalled by other tools (the ``temporal`` CLI, another SDK) see plain
arguments.  Outgoing headers are taken from a context variable that the
bridge sets just before calling temporalio; incoming headers are stored where
the workflow driver or the activity finds them.

This module is passed through the workflow sandbox, so the workflow and the
worker share it.
"""

from __future__ import annotations

import contextvars
from collections.abc import Mapping
from typing import Any

from temporalio.api.common.v1 import Payload

from temporal_bridge.converter import data_converter

__all__ = [
    "ACTIVITY_CONTEXT",
    "CONTEXT_HEADER",
    "FROM_HEADER",
    "OUTGOING",
    "decode_headers",
    "encode_headers",
]

CONTEXT_HEADER = "actorflow-context"
FROM_HEADER = "temporal.signal.from"

OUTGOING: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar(
    "actorflow_outgoing", default=None
)
"""Headers (name → plain value) for the next temporalio call made in this task."""

ACTIVITY_CONTEXT: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar(
    "actorflow_activity_context", default=None
)
"""The context values of the activity running in this task."""

_converter = data_converter.payload_converter


def encode_headers(
    values: Mapping[str, Any] | None, existing: Mapping[str, Payload]
) -> Mapping[str, Payload]:
    """``existing`` plus ``values`` encoded as payloads (None values are left out)."""
    if not values:
        return existing
    merged = dict(existing)
    for name, value in values.items():
        if value is not None:
            merged[name] = _converter.to_payload(value)
    return merged


def decode_headers(headers: Mapping[str, Payload]) -> dict[str, Any]:
    """Our headers, decoded (others are ignored)."""
    decoded: dict[str, Any] = {}
    for name in (CONTEXT_HEADER, FROM_HEADER):
        payload = headers.get(name)
        if payload is not None:
            try:
                decoded[name] = _converter.from_payload(payload)
            except Exception:  # a header from another tool we cannot read: ignore it
                continue
    return decoded
