"""The payload converter: msgpack, so Lua tables, PIDs and errors cross Temporal.

Values are encoded as ``binary/msgpack`` with the same codec processes use
for messages (PIDs and :class:`~actors.errors.Error` have extension types).
A payload ``node.send`` has encoded already (a :class:`~actors.codec.Packed`)
is that same msgpack: its bytes become the Temporal payload as they are, so a
message to a workflow is encoded once.
``None`` stays ``binary/null`` and protobuf messages stay protobuf, as other
SDKs expect; ``json/plain`` payloads (from the ``temporal`` CLI, other SDKs)
are still decoded.
"""

from __future__ import annotations

from typing import Any

from temporalio.api.common.v1 import Payload
from temporalio.api.failure.v1 import Failure
from temporalio.converter import (
    BinaryNullPayloadConverter,
    BinaryProtoPayloadConverter,
    CompositePayloadConverter,
    DataConverter,
    DefaultFailureConverter,
    EncodingPayloadConverter,
    JSONPlainPayloadConverter,
    JSONProtoPayloadConverter,
    PayloadConverter,
)

from actors import codec, errors

__all__ = [
    "ENCODING",
    "ActorflowFailureConverter",
    "ActorflowPayloadConverter",
    "MsgpackPayloadConverter",
    "data_converter",
]

ENCODING = "binary/msgpack"
_METADATA = {"encoding": ENCODING.encode()}


class MsgpackPayloadConverter(EncodingPayloadConverter):
    """``binary/msgpack`` payloads through the actors codec."""

    @property
    def encoding(self) -> str:
        return ENCODING

    def to_payload(self, value: Any) -> Payload | None:
        if type(value) is codec.Packed:
            return Payload(metadata=_METADATA, data=value.data)
        try:
            data = codec.dumps(value)
        except errors.Error:
            return None  # let the next converter try (or fail with Temporal's message)
        return Payload(metadata=_METADATA, data=data)

    def from_payload(self, payload: Payload, type_hint: type | None = None) -> Any:
        return codec.loads(payload.data)


class ActorflowPayloadConverter(CompositePayloadConverter):
    """null, protobuf, then msgpack for everything else; JSON still decodes."""

    def __init__(self) -> None:
        super().__init__(
            BinaryNullPayloadConverter(),
            BinaryProtoPayloadConverter(),
            JSONProtoPayloadConverter(),
            MsgpackPayloadConverter(),
            JSONPlainPayloadConverter(),
        )


class ActorflowFailureConverter(DefaultFailureConverter):
    """Temporal's failures as temporalio makes them, except a Lua loop the worker stopped.

    A ``RunawayLua`` (``temporal_bridge.workflow``) fails the workflow task, and
    the SDK's core prints the failure on stderr: its Python stack is the bridge's
    frames, nothing the Lua author can use, and read as a crash (issue 12,
    defect 7).  Its message says what happened; the stack is left out.
    """

    def to_failure(
        self, exception: BaseException, payload_converter: PayloadConverter, failure: Failure
    ) -> None:
        super().to_failure(exception, payload_converter, failure)
        if getattr(exception, "without_stack", False):
            failure.stack_trace = ""


data_converter = DataConverter(
    payload_converter_class=ActorflowPayloadConverter, failure_converter_class=ActorflowFailureConverter
)
"""The data converter every actorflow client and worker uses."""
