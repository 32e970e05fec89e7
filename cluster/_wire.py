"""What crosses between nodes: frames of entries, in msgpack.

A *frame* is one NATS message from one node to another: ``[node, incarnation,
entries]``.  Everything a node sends another node goes into one outbox and
leaves in frames, in order, so the order of what one process sends another
across nodes is the order it was sent in (the NATS connection keeps it).

An entry is either a mailbox item for a process of the receiving node,
``[tag, pid, sender, ...rest of the item]`` (the tag an int, as in the
mailbox; the PIDs as text, see :class:`PidTexts`), or a control entry
``[kind, ...]`` whose kind is a string (:data:`RPC`, :data:`REPLY`…).

Payloads are already encoded by ``send`` (``actors.codec.encode``): an
immutable scalar travels as itself, anything else as its msgpack blob in a
one-element list ``[blob]`` (``encode`` never gives a list, so the two cannot
be confused), so it is never decoded and re-encoded on the way; the receiver
decodes it, as a local receiver would.  Frames are read with
``codec.loads``, which refuses what it does not know: PIDs and errors are
the codec's own ext types, and the wire adds none.
"""

from __future__ import annotations

from typing import Any

from actors import codec
from actors.codec import Packed
from actors.pid import PID
from actors.signals import Signal

__all__ = [
    "BYE",
    "ENDED",
    "GROUP",
    "GROUPS",
    "REPLY",
    "RPC",
    "STARTED",
    "PidTexts",
    "decode_frame",
    "decode_value",
    "encode_frame",
    "encode_value",
    "entry_item",
    "item_entry",
    "packed",
]

RPC = "rpc"  # [RPC, token, op, args]: run op on the receiving node, answer with REPLY
REPLY = "reply"  # [REPLY, token, ok, value]
ENDED = "ended"  # [ENDED, token, value, error]: a watched process ended (exec, wait)
STARTED = "started"  # [STARTED, token, pid]: a spawned process finished its first step
GROUPS = "groups"  # [GROUPS, snapshot]: the sender's whole local group membership
GROUP = "group"  # [GROUP, scope, group, pid, delta]: one change of it
BYE = "bye"  # [BYE]: the sender leaves the cluster (sent last)

_MSG = Signal.MSG
_KNOWN_PIDS = 65_536  # PIDs a node keeps parsed; more and it starts over
_WITH_VALUE = frozenset((Signal.EXIT, Signal.LINK_DOWN, Signal.LINK_EXIT))
"""Items ``(tag, sender, value, error, at)``: the value travels still encoded."""


def _out(value: Any) -> Any:
    return [value.data] if value.__class__ is Packed else value


def packed(value: Any) -> Any:
    """A payload from the wire as it waits in a mailbox (still encoded)."""
    if value.__class__ is list:
        return Packed(value[0])
    return value


def item_entry(pid: PID, item: tuple[Any, ...]) -> list[Any]:
    """The wire entry of mailbox ``item`` for ``pid``: ``[tag, pid, sender, ...]``, PIDs as text."""
    tag = item[0]
    sender = item[1]
    if sender is not None:
        sender = str(sender)
    if tag == _MSG:
        payloads = item[3]
        if len(payloads) == 1:
            return [_MSG, str(pid), sender, item[2], [_out(payloads[0])]]
        return [_MSG, str(pid), sender, item[2], [_out(p) for p in payloads]]
    if tag in _WITH_VALUE:
        return [tag, str(pid), sender, _out(item[2]), item[3], item[4]]
    return [tag, str(pid), sender, *item[2:]]


def entry_item(entry: list[Any], pids: PidTexts) -> tuple[PID, tuple[Any, ...]]:
    """The PID and mailbox item of a wire entry (``INVALID`` for a malformed PID)."""
    known = pids.known
    tag = entry[0]
    text = entry[1]
    pid = known.get(text) or pids.parse(text)
    sender = entry[2]
    if sender is not None:
        sender = known.get(sender) or pids.parse(sender)
    if tag == _MSG:
        payloads = entry[4]
        if len(payloads) == 1:
            return pid, (_MSG, sender, entry[3], (packed(payloads[0]),))
        return pid, (_MSG, sender, entry[3], tuple(map(packed, payloads)))
    if tag in _WITH_VALUE:
        return pid, (tag, sender, packed(entry[3]), entry[4], entry[5])
    return pid, (tag, sender, *entry[3:])


class PidTexts:
    """PIDs by their text, each parsed once: the same few PIDs cross again and again.

    PIDs cross as text rather than as the codec's ext type: msgpack packs a
    string without calling back into Python, and a known text is a dict hit.
    """

    __slots__ = ("known",)

    def __init__(self) -> None:
        self.known: dict[str, PID] = {}
        """Text → PID, read directly on the hot path (:func:`entry_item`)."""

    def parse(self, text: str) -> PID:
        """The PID of ``text``, remembered (``INVALID`` when it is no PID)."""
        pid = PID.parse(text)
        if len(self.known) >= _KNOWN_PIDS:
            self.known.clear()
        self.known[text] = pid
        return pid


def encode_frame(node: str, incarnation: int, entries: list[list[Any]]) -> bytes:
    return codec.dumps([node, incarnation, entries])


def decode_frame(data: bytes) -> tuple[str, int, list[list[Any]]]:
    node, incarnation, entries = codec.loads(data)
    return node, incarnation, entries


def encode_value(value: Any) -> Any:
    """A value for an RPC argument or reply (encoded payloads stay packed)."""
    return _out(value)


def decode_value(value: Any) -> Any:
    return codec.decode(packed(value))
