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
from temporalio.converter import (
    BinaryNullPayloadConverter,
    BinaryProtoPayloadConverter,
    CompositePayloadConverter,
    DataConverter,
    EncodingPayloadConverter,
    JSONPlainPayloadConverter,
    JSONProtoPayloadConverter,
)

from actors import codec, errors

__all__ = ["ENCODING", "ActorflowPayloadConverter", "MsgpackPayloadConverter", "data_converter"]

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


data_converter = DataConverter(payload_converter_class=ActorflowPayloadConverter)
"""The data converter every actorflow client and worker uses."""
