"""What a node knows about one other node of the cluster."""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import threading
import time
from collections.abc import Callable
from typing import Any

from actors.pid import PID

__all__ = ["INCARNATION_SPAN", "Member", "incarnation_of"]

INCARNATION_SPAN = 1 << 40
"""PID numbers one incarnation of a node may hand out: incarnation *n* counts from (*n*-1)·2⁴⁰+1."""


def incarnation_of(pid: PID) -> int | None:
    """The incarnation of its node that minted ``pid`` (None when its ID is no PID counter)."""
    uniq = pid.uniq
    if not uniq.startswith("0x"):
        return None
    try:
        number = int(uniq, 16)
    except ValueError:
        return None
    return (number - 1) // INCARNATION_SPAN + 1 if number > 0 else None


class Member:
    """One live incarnation of another node, and everything that depends on it.

    ``links`` and ``monitors`` are the relations between this node's processes
    and that node's processes, as ``(local, remote)`` pairs: what turns into
    LINK_DOWN and EXIT events when that node goes down.  ``pending``,
    ``watches`` and ``started`` are calls waiting for its answer.
    """

    __slots__ = (
        "down",
        "hosts",
        "incarnation",
        "joined_at",
        "last_frame",
        "last_seen",
        "lingering",
        "links",
        "lock",
        "monitors",
        "name",
        "outbox",
        "pending",
        "rate",
        "scheduled",
        "sender",
        "started",
        "streaming",
        "wake",
        "watches",
    )

    def __init__(self, name: str, incarnation: int, hosts: tuple[str, ...]) -> None:
        self.name = name
        self.incarnation = incarnation
        self.hosts = hosts
        self.down = False
        self.joined_at = time.monotonic()
        self.last_seen = time.monotonic()
        self.lock = threading.Lock()
        self.links: set[tuple[PID, PID]] = set()
        self.monitors: set[tuple[PID, PID]] = set()
        self.pending: dict[int, concurrent.futures.Future[Any]] = {}
        self.watches: dict[int, Callable[[Any, Any], None]] = {}
        self.started: dict[int, Callable[[PID], None]] = {}
        self.outbox: collections.deque[list[Any]] = collections.deque()
        self.scheduled = False
        self.lingering = False
        """True while the sender waits for a stream to fill its frame (see ``Cluster._sender``)."""
        self.streaming = False
        """True while the flow to that node counts as a stream (see ``Cluster._linger``)."""
        self.last_frame = 0.0
        self.rate = 0.0
        """Entries per second to this node, smoothed over the last frames."""
        self.wake: asyncio.Event | None = None
        self.sender: asyncio.Task[None] | None = None

    def outlived(self, pid: PID) -> bool:
        """True when ``pid`` is of an earlier life of this node: it ended with that life."""
        born = incarnation_of(pid)
        return born is not None and born < self.incarnation

    def __repr__(self) -> str:
        state = "down" if self.down else "up"
        return f"<Member {self.name}#{self.incarnation} {state}>"
