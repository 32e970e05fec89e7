"""``Cluster``: one node's membership in a cluster of nodes on NATS.

A node joins with a name (the node part of its PIDs), through a NATS server:
the embedded one of its state directory, or the address of a real NATS
server or cluster.  Then:

* **membership**: every node publishes a heartbeat every
  ``heartbeat_interval`` seconds; a node silent for ``failure_timeout``
  seconds (or that said goodbye) is *down*: every link to its processes
  becomes LINK_DOWN and every monitor EXIT, with error kind :data:`NODE_DOWN`;
  its names, locks and group memberships are released.  A node that comes
  back is a new member with new PIDs (its *incarnation* numbers them);
* **fencing**: a node the others declared down never comes back in that life.
  One that was cut off (stopped, stalled, or its NATS connection gone for
  ``failure_timeout``) finds out by itself, or is told when it speaks again,
  and leaves: :attr:`Cluster.fenced` says why (``actorflow run`` then stops);
* **routing**: PIDs of the other nodes go to :class:`~cluster.peer.RemotePeer`
  and their hosts appear as ``node@host`` (:class:`~cluster.peer.RemoteHost`);
* **names** (:mod:`cluster.names`), **process groups** (:mod:`cluster.groups`)
  and **locks** (:mod:`cluster.locks`), on a JetStream key-value bucket and
  the frames between nodes.

Subjects, under ``af.<cluster>``: ``hb`` (heartbeats, everybody),
``n.<node>`` (frames to one node), ``ping.<node>`` (is this name taken?),
``down.<node>`` (you were declared down).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import itertools
import logging
import re
import ssl
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import nats
import nats.errors
import nats.js.errors

from actors import codec, errors
from actors.codec import Packed
from actors.host import deferred_wakes
from actors.loopthread import LoopThread
from actors.names import CONSISTENT, scope_name
from actors.node import Node
from actors.pid import LOCAL_NODE, PID
from actors.signals import Signal
from cluster._member import INCARNATION_SPAN, Member
from cluster._wire import (
    BYE,
    ENDED,
    GROUP,
    GROUPS,
    REPLY,
    RPC,
    STARTED,
    PidTexts,
    decode_frame,
    decode_value,
    encode_frame,
    entry_item,
)
from cluster.groups import Groups
from cluster.locks import Locks
from cluster.names import ClusterNames
from cluster.peer import RemoteHost, RemotePeer, serve_spawn, serve_watch
from cluster.server import EmbeddedNats

__all__ = ["NODE_DOWN", "Cluster"]


class _QuietTlsEof(logging.Filter):
    """asyncio warns each time a TLS peer closes the connection (nats-py's stream asks to stay
    half-open, which TLS cannot): a refused login over TLS printed it three times."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("returning true from eof_received()")


logging.getLogger("asyncio").addFilter(_QuietTlsEof())

logger = logging.getLogger("cluster")

NODE_DOWN = "NODE_DOWN"
"""The error kind of the EXIT and LINK_DOWN events a node's death gives."""

_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_FRAME_ENTRIES = 1024
_BATCH = 256  # entries a lingering sender waits for at most
_STREAM_MIN = 8  # entries a linger must be expected to gather to be worth it (see _linger)
_STREAM_RATE = 4_000  # entries a second a flow must reach to wait at all: no request/reply loop does
_IDLE = 0.02  # seconds without a frame after which a flow counts as new
_FRAME_BYTES = 256 * 1024
_RPC_TIMEOUT = 10.0
_CONNECT_ATTEMPTS = 2  # tries of each server when joining (then reconnect for ever)
_MSG = Signal.MSG
_LINK_ENDS = frozenset((Signal.UNLINK, Signal.LINK_GONE, Signal.LINK_DOWN, Signal.LINK_EXIT))
"""Items that end a link (asked for, or the linked process ended)."""


class Cluster:
    """This node's membership in the cluster; see the module docstring.

    ``Cluster(node, "node1", state_dir=…)`` uses (or starts) the embedded NATS
    server of ``state_dir``; ``Cluster(node, "node1", address="nats://…")``
    connects to that server or cluster and starts nothing.  ``connect``
    passes TLS and credentials to ``nats.connect`` as they are (``tls``,
    ``user_credentials``, ``user``, ``password``, ``token``, …).

    Join before the node starts processes: from then on its PIDs read
    ``{node1@host|id}``.  :meth:`stop` leaves (after ``node.shutdown()``, so
    the exits of its processes reach the other nodes first).
    """

    def __init__(
        self,
        node: Node,
        name: str,
        *,
        address: str | list[str] | None = None,
        state_dir: str | Path | None = None,
        cluster: str = "actorflow",
        heartbeat_interval: float = 0.5,
        failure_timeout: float = 3.0,
        discovery_window: float = 0.3,
        max_outbox: int = 262_144,
        frame_linger: float = 0.005,
        connect: dict[str, Any] | None = None,
    ) -> None:
        if not isinstance(name, str) or not _NAME.match(name) or name == LOCAL_NODE:
            raise errors.Error(
                errors.INVALID, f"node name {name!r}: 1-64 letters, digits, '-' or '_' (and not 'local')"
            )
        if not isinstance(cluster, str) or not _NAME.match(cluster):
            raise errors.Error(errors.INVALID, f"cluster name {cluster!r}: 1-64 letters, digits, '-' or '_'")
        if heartbeat_interval <= 0 or failure_timeout < 3 * heartbeat_interval:
            raise errors.Error(
                errors.INVALID,
                f"failure_timeout ({failure_timeout} s) must be at least three heartbeat intervals "
                f"({heartbeat_interval} s)",
            )
        if (connect or {}).get("no_echo"):
            raise errors.Error(errors.INVALID, "no_echo: a node must hear its own heartbeats")
        if not 0.0 <= frame_linger <= 0.1:
            raise errors.Error(errors.INVALID, f"frame_linger must be 0 to 0.1 s, got {frame_linger}")
        if address is None and state_dir is None:
            raise errors.Error(
                errors.INVALID, "a cluster needs a NATS address or a state_dir for the embedded server"
            )
        self.node = node
        self.name = name
        self.cluster_id = cluster
        self.address = address
        self.state_dir = Path(state_dir) if state_dir is not None else None
        self.heartbeat_interval = heartbeat_interval
        self.failure_timeout = failure_timeout
        self.discovery_window = discovery_window
        self.max_outbox = max_outbox
        """Messages waiting to leave for one node, at most; a send beyond is ``LIMIT_EXCEEDED``."""
        self.frame_linger = frame_linger
        """How long a stream of sends to one node may wait to share a frame (0: never)."""
        self.connect_options = dict(connect or {})
        self.prefix = f"af.{cluster}"
        self.incarnation = 0
        self.members: dict[str, Member] = {}
        self.targets: dict[str, Any] = {}
        """Python spawn targets other nodes may name (``register_target``)."""
        self.server: EmbeddedNats | None = None
        self.loop: LoopThread | None = None
        self.nc: Any = None
        self.kv: Any = None
        self.started_at = 0.0
        self._tokens = itertools.count(1)
        self._pids = PidTexts()
        self._traffic = {
            "frames_out": 0,
            "entries_out": 0,
            "frames_in": 0,
            "entries_in": 0,
            "dropped_in": 0,
        }
        self._dropped_said = -1.0
        self._executor: ThreadPoolExecutor | None = None
        self._tasks: list[asyncio.Task[Any]] = []
        self._down_hooks: list[Callable[[Member, errors.Error], None]] = []
        self._up_hooks: list[Callable[[Member], None]] = []
        self._max_payload = 1024 * 1024
        self._stopped = False
        self.fenced: errors.Error | None = None
        """Why this node was cut off and left the cluster (``NODE_DOWN``), or None."""
        self._fence_hooks: list[Callable[[errors.Error], None]] = []
        self._echoed = 0.0  # when our own latest heartbeat came back from NATS (monotonic)
        self._told: dict[tuple[str, int], float] = {}  # down nodes told so, and when
        self._nats_error = ""
        self._nats_error_said = False
        self._refused: asyncio.Event | None = None
        self._departed: dict[tuple[str, int], None] = {}
        self._lock = threading.Lock()
        self.peer = RemotePeer(self)
        self.names = ClusterNames(self)
        self.groups = Groups(node, self)
        self.locks = Locks(self)

    # -- lifecycle ------------------------------------------------------------------------

    def start(self, timeout: float = 30.0) -> Cluster:
        """Connect, take the name, learn the other nodes; this cluster."""
        if self.node.process_count():
            raise errors.Error(errors.INVALID, "join the cluster before the node starts processes")
        address = self.address
        if address is None:
            assert self.state_dir is not None
            self.server = EmbeddedNats(self.state_dir)
            address = self.server.start(timeout)
        self.loop = LoopThread(f"cluster-{self.name}")
        self._executor = ThreadPoolExecutor(max_workers=4, thread_name_prefix=f"cluster-{self.name}-rpc")
        try:
            self.loop.run(self._join(address), timeout)
        except concurrent.futures.TimeoutError:
            self._teardown()
            detail = f" ({self._nats_error})" if self._nats_error else ""
            raise errors.Error(
                errors.TIMEOUT, f"joining the cluster through NATS at {address} took over {timeout} s{detail}"
            ) from None
        except BaseException:
            self._teardown()
            raise
        return self

    async def _join(self, address: str | list[str]) -> None:
        options: dict[str, Any] = {
            "connect_timeout": 5,
            "max_reconnect_attempts": _CONNECT_ATTEMPTS,
            "reconnect_time_wait": 0.2,
            "error_cb": self._on_nats_error,
            "disconnected_cb": self._on_disconnected,
            "reconnected_cb": self._on_reconnected,
        }
        options.update(self.connect_options)
        servers = address if isinstance(address, list) else [address]
        self.nc = await self._connect(servers, options, address)
        if "max_reconnect_attempts" not in self.connect_options:
            # Once in, never give up: a node cut off for long is declared down by the
            # others and leaves by itself (see _fence); a short cut is bridged.
            self.nc.options["max_reconnect_attempts"] = -1
        self._max_payload = self.nc.max_payload
        try:
            await self.nc.request(f"{self.prefix}.ping.{self.name}", b"", timeout=0.5)
        except (nats.errors.NoRespondersError, nats.errors.TimeoutError):
            pass
        else:
            raise errors.Error(errors.ALREADY_EXISTS, f"a node named {self.name!r} is already in the cluster")
        js = self.nc.jetstream()
        bucket = f"af_{self.cluster_id}"
        try:
            self.kv = await js.key_value(bucket)
        except nats.js.errors.BucketNotFoundError:
            self.kv = await js.create_key_value(bucket=bucket, history=1)
        self.incarnation = await self._next_incarnation()
        self.node.set_pid_node(self.name, (self.incarnation - 1) * INCARNATION_SPAN + 1)
        self.node.names = self.names  # every name the node resolves is now looked up cluster-wide
        await self.names.start()
        await self.nc.subscribe(f"{self.prefix}.ping.{self.name}", cb=self._on_ping)
        await self.nc.subscribe(f"{self.prefix}.n.{self.name}", cb=self._on_frame)
        await self.nc.subscribe(f"{self.prefix}.hb", cb=self._on_heartbeat)
        await self.nc.subscribe(f"{self.prefix}.down.{self.name}", cb=self._on_declared_down)
        self.started_at = self._echoed = time.monotonic()
        await self.nc.publish(f"{self.prefix}.hb", self._heartbeat("hello"))
        await self.nc.flush()
        await asyncio.sleep(self.discovery_window)
        self._tasks.append(asyncio.get_running_loop().create_task(self._heartbeats()))
        logger.info(
            "node %s joined cluster %s (incarnation %d)", self.name, self.cluster_id, self.incarnation
        )

    async def _connect(self, servers: list[str], options: dict[str, Any], address: Any) -> Any:
        """A connection to one of ``servers``; ``UNAVAILABLE`` with NATS's reason otherwise.

        A refused login or certificate shows up in the error callback (the
        exception only says that no server was left to try); a TLS failure is
        final at once (nats-py would hang on it).
        """
        client = nats.NATS()
        self._refused = asyncio.Event()
        connecting = asyncio.ensure_future(client.connect(servers=servers, **options))
        refused = asyncio.ensure_future(self._refused.wait())
        try:
            await asyncio.wait({connecting, refused}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            refused.cancel()
        if connecting.done() and connecting.exception() is None:
            return client
        connecting.cancel()
        try:
            await asyncio.wait_for(client.close(), 1)
        except BaseException:
            pass
        exc = None if connecting.cancelled() else connecting.exception()
        detail = self._nats_error or (str(exc) or type(exc).__name__ if exc is not None else "refused")
        raise errors.Error(errors.UNAVAILABLE, f"cannot connect to NATS at {address}: {detail}")

    async def _next_incarnation(self) -> int:
        key = f"inc.{self.name}"
        for _ in range(20):
            try:
                entry = await self.kv.get(key)
            except nats.js.errors.KeyNotFoundError:
                try:
                    await self.kv.create(key, b"1")
                    return 1
                except nats.js.errors.KeyWrongLastSequenceError:
                    continue
            number = int(entry.value or b"0") + 1
            try:
                await self.kv.update(key, str(number).encode(), last=entry.revision)
                return number
            except nats.js.errors.KeyWrongLastSequenceError:
                continue
        raise errors.Error(errors.CONFLICT, f"could not number node {self.name}'s incarnation")

    def stop(self, timeout: float = 10.0) -> None:
        """Leave the cluster: say goodbye to every node, close the connection, stop the server if last."""
        with self._lock:
            if self._stopped:
                return
            self._stopped = True
        if self.loop is not None and self.nc is not None:
            try:
                self.loop.run(self._leave(), timeout)
            except Exception:
                logger.debug("leaving the cluster failed", exc_info=True)
        self._teardown()

    async def _leave(self) -> None:
        for task in self._tasks:
            task.cancel()
        await self.names.stop()
        if self.nc.is_closed:  # fenced: already gone
            return
        for member in list(self.members.values()):
            if not member.down:
                self.enqueue(member, [BYE])
        await asyncio.sleep(0)
        for member in list(self.members.values()):
            while (member.outbox or member.scheduled) and not member.down:  # a down one sends nothing
                await asyncio.sleep(0.005)
            if member.sender is not None:
                member.sender.cancel()
        try:
            await self.nc.flush(timeout=2)
        except Exception:
            pass
        await self.nc.close()

    def _teardown(self) -> None:
        if self.loop is not None:
            self.loop.stop()
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
        if self.server is not None:
            self.server.stop()

    def __enter__(self) -> Cluster:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- public queries -----------------------------------------------------------------

    def member_names(self) -> list[str]:
        """The nodes currently up, this one included, sorted."""
        return sorted([self.name, *(m.name for m in self.members.values() if not m.down)])

    def on_fenced(self, hook: Callable[[errors.Error], None]) -> None:
        """Call ``hook(error)`` (on the cluster's thread) if this node is cut off and leaves.

        ``error`` is :attr:`fenced`.  An app stops then (``actorflow run`` exits
        with status 1): its processes keep PIDs the other nodes consider dead,
        and it rejoins as a new incarnation only when started again.
        """
        self._fence_hooks.append(hook)

    def traffic(self) -> dict[str, int]:
        """Frames and entries (messages, signals, calls) sent to and received from other nodes so far.

        ``entries_out / frames_out`` is how well sends share frames (see ``frame_linger``);
        ``dropped_in`` counts messages from other nodes dropped on arrival because their
        receiver's mailbox was full (a local sender gets ``LIMIT_EXCEEDED`` instead).
        """
        return dict(self._traffic)

    def register_target(self, name: str, target: Any) -> None:
        """Let other nodes spawn ``target`` (an Actor subclass or async function) by ``name``."""
        if not isinstance(name, str) or not name:
            raise errors.Error(errors.INVALID, "target name must be a non-empty string")
        self.targets[name] = target

    # -- names, shortcuts ------------------------------------------------------------------

    def register(self, name: str, pid: PID | str | None = None, scope: str | int = CONSISTENT) -> bool:
        """Register ``name`` for ``pid`` (default: the calling process), cluster-wide by default.

        ``node.register`` (and Lua's ``process.registry.register``) default to a
        local name, as Wippy does; this is the cluster's own API, whose names are
        cluster-wide unless told otherwise.  See
        :meth:`cluster.names.ClusterNames.register_scoped`.
        """
        return self.node.register(name, pid, scope)

    def unregister(self, name: str, scope: str | int = CONSISTENT, pid: PID | str | None = None) -> bool:
        """Remove ``name`` held by ``pid`` (default: the calling process; outside one, any holder)."""
        return self.names.unregister_scoped(
            name, scope_name(scope), PID.coerce(pid) if pid is not None else None
        )

    def whereis(self, name: str) -> PID | None:
        return self.names.whereis(name)

    def lookup(self, name: str) -> PID:
        return self.names.lookup(name)

    # -- liveness of owners -----------------------------------------------------------------

    def is_live(self, node_name: str, incarnation: int) -> bool:
        """True while ``node_name`` in its ``incarnation`` is a member (this node included)."""
        if node_name == self.name:
            return incarnation == self.incarnation and self.fenced is None
        member = self.members.get(node_name)
        return member is not None and not member.down and member.incarnation == incarnation

    def node_down_error(self, node_name: str, reason: str = "is down") -> errors.Error:
        return errors.Error(
            NODE_DOWN, f"node {node_name} {reason}", retryable=True, details={"node": node_name}
        )

    def on_member_up(self, hook: Callable[[Member], None]) -> None:
        self._up_hooks.append(hook)

    def on_member_down(self, hook: Callable[[Member, errors.Error], None]) -> None:
        self._down_hooks.append(hook)

    # -- sending --------------------------------------------------------------------------

    def new_token(self) -> int:
        return next(self._tokens)

    @property
    def running(self) -> bool:
        """True between a successful start and stop (or being cut off: :attr:`fenced`)."""
        return self.loop is not None and self.incarnation > 0 and not self._stopped and self.fenced is None

    def check_size(self, member: Member, payloads: tuple[Any, ...]) -> None:
        """``LIMIT_EXCEEDED`` for a message no frame could carry, or that would overfill the outbox."""
        if len(member.outbox) >= self.max_outbox:
            raise errors.Error(
                errors.LIMIT_EXCEEDED,
                f"{len(member.outbox)} messages are waiting to leave for node {member.name} (max_outbox)",
                retryable=True,
            )
        size = 0
        for payload in payloads:
            kind = payload.__class__
            if kind is Packed:
                size += len(payload.data)
            elif kind is bytes or kind is str:
                size += len(payload)
        if size > self._max_payload - 4096:
            raise errors.Error(
                errors.LIMIT_EXCEEDED,
                f"message of {size} bytes is over the cluster's limit ({self._max_payload - 4096} bytes)",
            )

    def enqueue(self, member: Member, entry: list[Any]) -> None:
        """Append ``entry`` to ``member``'s outbox (any thread); it leaves in the next frame."""
        outbox = member.outbox
        outbox.append(entry)
        if not member.scheduled:
            member.scheduled = True
        elif not (member.lingering and len(outbox) >= _BATCH):
            return
        else:
            member.lingering = False  # a full batch: stop waiting for more
        loop = self.loop
        if loop is not None and member.wake is not None:
            try:
                loop.loop.call_soon_threadsafe(member.wake.set)
            except RuntimeError:
                pass  # the loop is closed: we are leaving

    async def _sender(self, member: Member) -> None:
        """Send ``member``'s outbox in frames, in order, for as long as it is up.

        A frame costs much more than an entry in it (a wake-up of this loop and
        a publish here, a delivery and a callback on the other node), so a
        *stream* of small sends shares frames: when entries come fast enough for
        ``frame_linger`` to gather several (:meth:`_linger`), the sender waits up
        to ``frame_linger`` (or until :data:`_BATCH` entries wait).  A request
        and its reply never wait.
        """
        assert member.wake is not None
        loop = asyncio.get_running_loop()
        subject = f"{self.prefix}.n.{member.name}"
        outbox = member.outbox
        publish = self.nc.publish
        wake = member.wake
        while True:
            await wake.wait()
            wake.clear()
            # One flow: while it is a stream, this loop comes back for the next frame by
            # itself (``scheduled`` stays set, so senders do not wake it: a wake-up costs
            # them a write to the loop's socket and the GIL); it waits to be woken again
            # once a frame finds nothing to send.
            while True:
                linger = self._linger(member)
                if linger and len(outbox) < _BATCH:
                    member.lingering = True
                    timer = loop.call_later(linger, wake.set)
                    await wake.wait()
                    wake.clear()
                    timer.cancel()
                    member.lingering = False
                streaming = bool(linger)
                if not streaming or not outbox:
                    member.scheduled = False  # from now on, a send wakes us
                    if not outbox:
                        break
                    streaming = False
                sent = 0
                while outbox:
                    entries = []
                    pop = outbox.popleft
                    while outbox and len(entries) < _FRAME_ENTRIES:
                        entries.append(pop())
                    sent += len(entries)
                    traffic = self._traffic
                    traffic["frames_out"] += 1
                    traffic["entries_out"] += len(entries)
                    for data in self._frames(entries):
                        try:
                            await publish(subject, data)
                        except Exception:
                            logger.warning("sending a frame to %s failed", member.name, exc_info=True)
                self._paced(member, sent)
                if not streaming:
                    break

    def _linger(self, member: Member) -> float:
        """How long the next frame to ``member`` waits for company (0: it leaves now).

        Judged by the flow's rate alone: a stream this loop keeps up with goes out
        one entry a frame, so the size of the last frame says nothing.  A request
        and its reply cannot reach the rate (one round trip over NATS takes about
        0.5 ms: 2,000 a second, against :data:`_STREAM_RATE`), and a linger must be
        expected to gather at least :data:`_STREAM_MIN` entries.

        Every frame wakes the cluster's loop on both nodes (and the NATS server),
        and on a busy 2-core machine a wake-up costs 50-150 µs of CPU (a thread
        switch, the GIL, the other threads it preempts) against 1-3 µs for an
        entry, so a stream's frames are worth filling: the default
        ``frame_linger`` of 5 ms (Kafka's ``linger.ms`` since 4.0) gives a stream
        of 8,000 messages a second frames of about 40, where 2 ms gave about 20
        and 16-26 µs of CPU per crossing message (both nodes) instead of 8-14
        (``bench/cluster.py``, the two checkouts alternated).
        """
        if not self.frame_linger or time.monotonic() - member.last_frame > _IDLE:
            member.streaming = False
            return 0.0
        rate = member.rate
        # Once a stream, until it slows to half the rate: a stream slowed down by a busy
        # machine must not fall back to a frame a send (and make the machine busier still).
        floor = _STREAM_RATE / 2 if member.streaming else _STREAM_RATE
        if rate < floor or rate * self.frame_linger < _STREAM_MIN:
            member.streaming = False
            return 0.0
        member.streaming = True
        return min(self.frame_linger, _BATCH / rate)

    def _paced(self, member: Member, sent: int) -> None:
        """Record a frame of ``sent`` entries: the flow's rate (entries per second), smoothed."""
        now = time.monotonic()
        interval = now - member.last_frame
        member.last_frame = now
        if interval > _IDLE:
            member.rate = 0.0
        elif interval > 0:
            member.rate = 0.5 * member.rate + 0.5 * sent / interval

    def _frames(self, entries: list[list[Any]]) -> list[bytes]:
        """``entries`` as frames of at most the server's payload size (an entry too big is dropped)."""
        try:
            data = encode_frame(self.name, self.incarnation, entries)
        except errors.Error:
            if len(entries) == 1:
                logger.warning("dropped an entry that cannot be encoded: %r", entries[0][:2])
                return []
            half = len(entries) // 2
            return self._frames(entries[:half]) + self._frames(entries[half:])
        if len(data) <= min(self._max_payload, max(_FRAME_BYTES, len(data) if len(entries) == 1 else 0)):
            return [data]
        if len(entries) == 1:
            logger.warning("dropped an entry of %d bytes (over the server's payload limit)", len(data))
            return []
        half = len(entries) // 2
        return self._frames(entries[:half]) + self._frames(entries[half:])

    def call(self, member: Member, op: str, args: list[Any], timeout: float = _RPC_TIMEOUT) -> Any:
        """Run ``op`` on ``member``'s node and wait for its answer (never from the loop thread)."""
        if self.loop is not None and self.loop.in_loop:
            raise errors.Error(errors.INTERNAL, f"cluster call {op} from the cluster's own loop")
        token, future = self._request(member, op, args)
        try:
            return future.result(timeout)
        except concurrent.futures.TimeoutError:
            raise self._unanswered(member, token, op, timeout) from None

    async def call_async(
        self, member: Member, op: str, args: list[Any], timeout: float = _RPC_TIMEOUT
    ) -> Any:
        """:meth:`call` from the cluster's loop: awaits the answer instead of blocking."""
        token, future = self._request(member, op, args)
        try:
            return await asyncio.wait_for(asyncio.wrap_future(future), timeout)
        except TimeoutError:
            raise self._unanswered(member, token, op, timeout) from None

    def _request(
        self, member: Member, op: str, args: list[Any]
    ) -> tuple[int, concurrent.futures.Future[Any]]:
        token = self.new_token()
        future: concurrent.futures.Future[Any] = concurrent.futures.Future()
        with member.lock:
            if member.down:
                raise self.node_down_error(member.name)
            member.pending[token] = future
        self.enqueue(member, [RPC, token, op, args])
        return token, future

    def _unanswered(self, member: Member, token: int, op: str, timeout: float) -> errors.Error:
        with member.lock:
            member.pending.pop(token, None)
        return errors.Error(
            errors.TIMEOUT, f"node {member.name} did not answer {op} in {timeout} s", retryable=True
        )

    # -- receiving --------------------------------------------------------------------------

    async def _on_ping(self, msg: Any) -> None:
        if msg.reply:
            await self.nc.publish(msg.reply, self.name.encode())

    async def _on_heartbeat(self, msg: Any) -> None:
        try:
            name, incarnation, hosts, kind = codec.loads(msg.data)[:4]
        except Exception:
            return
        if self.fenced is not None:
            return
        if name == self.name:
            if incarnation == self.incarnation:
                self._echoed = time.monotonic()  # NATS still carries what we say
            return
        if kind == "bye":  # it leaves (cut off, say): down at once, for good
            self._departed[(name, incarnation)] = None
            member = self.members.get(name)
            if member is not None and member.incarnation == incarnation:
                self._member_down(member, self.node_down_error(name, "left the cluster"))
            return
        member = self._seen(name, incarnation, tuple(hosts))
        if member is None:
            return
        if kind == "hello":  # a new node: tell it about us at once
            await self.nc.publish(f"{self.prefix}.hb", self._heartbeat("hb"))

    def _heartbeat(self, kind: str) -> bytes:
        hosts = [h.id for h in self.node.hosts() if not isinstance(h, RemoteHost)]
        return codec.dumps([self.name, self.incarnation, hosts, kind])

    def _seen(self, name: str, incarnation: int, hosts: tuple[str, ...] | None) -> Member | None:
        """Record a sign of life of ``name``; the member, or None when it is not taken back.

        Not taken back: an older incarnation, one that said goodbye, and one
        this node declared down (told so: it must leave, see :meth:`_fence`).
        Its PIDs stay dead here; only a new incarnation is a member again.
        """
        if (name, incarnation) in self._departed:
            self._tell_down(name, incarnation)  # what it said after goodbye is no sign of life
            return None
        member = self.members.get(name)
        if member is not None and member.incarnation != incarnation:
            if incarnation < member.incarnation:
                return None
            if not member.down:
                self._member_down(member, self.node_down_error(name, "restarted"))
            member = None
        if member is not None and member.down:
            self._tell_down(name, incarnation)
            return None
        if member is None:
            member = self._member_up(name, incarnation, hosts or ())
        elif hosts is not None and hosts != member.hosts:
            member.hosts = hosts
            self._add_hosts(member)
        member.last_seen = time.monotonic()
        return member

    def _member_up(self, name: str, incarnation: int, hosts: tuple[str, ...]) -> Member:
        member = Member(name, incarnation, hosts)
        member.wake = asyncio.Event()
        member.sender = asyncio.get_running_loop().create_task(self._sender(member))
        self.members[name] = member
        self.node.add_peer(name, self.peer)
        self._add_hosts(member)
        logger.info("node %s: %s#%d is up", self.name, name, incarnation)
        for hook in self._up_hooks:
            try:
                hook(member)
            except Exception:
                logger.exception("member-up hook failed")
        return member

    def _add_hosts(self, member: Member) -> None:
        for host_id in member.hosts:
            remote_id = f"{member.name}@{host_id}"
            try:
                self.node.host(remote_id)
            except errors.Error:
                try:
                    self.node.add_host(RemoteHost(self, member.name, host_id), start=False)
                except errors.Error:
                    pass  # added meanwhile

    def _member_down(self, member: Member, error: errors.Error) -> None:
        """``member`` is gone: LINK_DOWN and EXIT for everything that depended on it."""
        with member.lock:
            if member.down:
                return
            member.down = True
            links, member.links = member.links, set()
            monitors, member.monitors = member.monitors, set()
            pending, member.pending = member.pending, {}
            watches, member.watches = member.watches, {}
            member.started = {}
            member.outbox.clear()
            member.scheduled = False
        if member.sender is not None:
            member.sender.cancel()
        logger.info(
            "node %s: %s#%d is down (%s)", self.name, member.name, member.incarnation, error.message()
        )
        at = time.time()
        deliver = self.node.deliver
        for local, remote in links:
            deliver(local, (Signal.LINK_DOWN, remote, None, error, at))
        for local, remote in monitors:
            deliver(local, (Signal.EXIT, remote, None, error, at))
        for future in pending.values():
            if not future.done():
                future.set_exception(error)
        for callback in watches.values():
            try:
                callback(None, error)
            except Exception:
                logger.exception("watch callback failed")
        for hook in self._down_hooks:
            try:
                hook(member, error)
            except Exception:
                logger.exception("member-down hook failed")

    async def _on_frame(self, msg: Any) -> None:
        try:
            name, incarnation, entries = decode_frame(msg.data)
        except Exception:
            logger.warning("node %s: dropped a frame it cannot decode", self.name)
            return
        if self.fenced is not None:
            return
        member = self._seen(name, incarnation, None)
        if member is None:
            return
        traffic = self._traffic
        traffic["frames_in"] += 1
        traffic["entries_in"] += len(entries)
        deliver = self.node.deliver
        pids = self._pids
        # The frame goes in as one batch: every mailbox gets its messages in order now, and
        # an idle host thread is woken once at the end, not at its first message.
        with deferred_wakes():
            for entry in entries:
                kind = entry[0]
                if kind.__class__ is int:
                    try:
                        pid, item = entry_item(entry, pids)
                    except (errors.Error, LookupError, TypeError):
                        logger.warning("node %s: dropped a malformed entry from %s", self.name, name)
                        continue
                    if kind != _MSG:
                        self._track_incoming(member, pid, item)
                    try:
                        deliver(pid, item)
                    except errors.Error as err:  # a full mailbox: this message only is lost
                        self._dropped(name, pid, err)
                else:
                    try:
                        self._control(member, entry)
                    except Exception:
                        logger.exception("node %s: control entry %s from %s failed", self.name, kind, name)

    def _dropped(self, sender: str, pid: PID, err: errors.Error) -> None:
        """A message from node ``sender`` that ``pid`` could not take (its mailbox is full).

        Its sender cannot be told (delivery across nodes is at most once): the
        message is dropped, counted in :meth:`traffic`, and logged once a second.
        """
        self._traffic["dropped_in"] += 1
        now = time.monotonic()
        if now - self._dropped_said >= 1.0:
            self._dropped_said = now
            logger.warning(
                "node %s: dropped a message from node %s for %s: %s", self.name, sender, pid, err.message()
            )

    def _track_incoming(self, member: Member, local: PID, item: tuple[Any, ...]) -> None:
        tag = item[0]
        remote = item[1]
        if tag == Signal.LINK:
            with member.lock:
                if not member.down:
                    member.links.add((local, remote))
        elif tag in _LINK_ENDS:
            with member.lock:
                member.links.discard((local, remote))
        elif tag == Signal.EXIT:
            with member.lock:
                member.monitors.discard((local, remote))

    def _control(self, member: Member, entry: list[Any]) -> None:
        kind = entry[0]
        if kind == RPC:
            assert self._executor is not None
            self._executor.submit(self._serve, member, entry[1], entry[2], entry[3])
        elif kind == REPLY:
            with member.lock:
                future = member.pending.pop(entry[1], None)
            if future is not None and not future.done():
                if entry[2]:
                    future.set_result(entry[3])
                else:
                    future.set_exception(entry[3])
        elif kind == ENDED:
            with member.lock:
                callback = member.watches.pop(entry[1], None)
            if callback is not None:
                callback(decode_value(entry[2]), entry[3])
        elif kind == STARTED:
            with member.lock:
                started = member.started.pop(entry[1], None)
            if started is not None:
                started(entry[2])
        elif kind in (GROUPS, GROUP):
            self.groups.apply(member, entry)
        elif kind == BYE:
            self._departed[(member.name, member.incarnation)] = None
            if len(self._departed) > 1024:
                del self._departed[next(iter(self._departed))]
            self._member_down(member, self.node_down_error(member.name, "left the cluster"))

    def _serve(self, member: Member, token: int, op: str, args: list[Any]) -> None:
        try:
            if op == "spawn":
                value: Any = serve_spawn(self, member, args)
            elif op == "alive":
                value = self.node.is_alive(args[0])
            elif op == "watch":
                value = serve_watch(self, member, args[0], args[1])
            elif op == "sees":  # a strong name registered there: do we resolve it yet?
                value = self.names.sees(str(args[0]), int(args[1]))
            else:
                raise errors.Error(errors.INVALID, f"unknown cluster call {op!r}")
        except errors.Error as err:
            self.enqueue(member, [REPLY, token, False, err])
        except Exception as exc:
            logger.debug("cluster call %s failed", op, exc_info=True)
            self.enqueue(member, [REPLY, token, False, errors.from_exception(exc)])
        else:
            self.enqueue(member, [REPLY, token, True, value])

    # -- the heartbeat loop -----------------------------------------------------------------------

    async def _heartbeats(self) -> None:
        subject = f"{self.prefix}.hb"
        silence = self.failure_timeout - self.heartbeat_interval
        ticked = time.monotonic()
        while True:
            now = time.monotonic()
            # First whether *we* were out of reach for as long as makes the others
            # declare a node down: then it is us that is down, not them.
            if now - ticked > silence:
                self._fence(f"it did not run for {now - ticked:.1f} s")
                return
            if now - self._echoed > silence:
                self._fence(f"its heartbeats did not come back from NATS for {now - self._echoed:.1f} s")
                return
            ticked = now
            try:
                if self.nc.is_connected:
                    await self.nc.publish(subject, self._heartbeat("hb"))
            except Exception:
                logger.debug("heartbeat failed", exc_info=True)
            for member in list(self.members.values()):
                if not member.down and now - member.last_seen > silence:
                    self._member_down(member, self.node_down_error(member.name))
            try:
                await self.names.sweep()
            except Exception:
                logger.debug("sweeping names failed", exc_info=True)
            await asyncio.sleep(self.heartbeat_interval)

    def janitor(self) -> bool:
        """True on the node that cleans up after dead nodes: the first live name in order, and
        only while NATS carries its heartbeats (a node that is itself cut off deletes nothing)."""
        if self.fenced is not None or time.monotonic() - self._echoed > 2 * self.heartbeat_interval + 0.5:
            return False
        return self.member_names()[0] == self.name

    # -- being cut off ----------------------------------------------------------------------------

    def _tell_down(self, name: str, incarnation: int) -> None:
        """Tell ``name`` (in ``incarnation``) that this node declared it down (once a heartbeat)."""
        if self.fenced is not None or self._stopped:
            return
        now = time.monotonic()
        if now - self._told.get((name, incarnation), 0.0) < self.heartbeat_interval:
            return
        self._told[(name, incarnation)] = now
        if len(self._told) > 1024:
            del self._told[next(iter(self._told))]
        live = len(self.member_names())
        notice = codec.dumps([self.name, self.incarnation, incarnation, live])
        asyncio.get_running_loop().create_task(self.nc.publish(f"{self.prefix}.down.{name}", notice))

    async def _on_declared_down(self, msg: Any) -> None:
        """Another node declared us down: leave if that is so (see :meth:`_fence`)."""
        try:
            sender, sender_incarnation, incarnation, live = codec.loads(msg.data)
        except Exception:
            return
        if incarnation != self.incarnation or self.fenced is not None or self._stopped:
            return
        member = self.members.get(sender)
        if member is not None and member.incarnation == sender_incarnation and not member.down:
            self._fence(f"node {sender} declared it down")
            return
        # Each declared the other down (a partition between NATS servers): the side that
        # sees fewer live nodes leaves; on a tie, the greater name.
        mine = len(self.member_names())
        if live > mine or (live == mine and sender < self.name):
            self._fence(f"node {sender} declared it down, and sees more of the cluster")

    def _fence(self, reason: str) -> None:
        """This node was cut off and the others declared it (or will declare it) down: leave.

        Its processes get NODE_DOWN for every process of another node they link to
        or monitor, as the others got for its processes; it forgets every
        cluster-wide name, lock and group member (the others released its own);
        it says goodbye and closes its connection.  Its PIDs stay dead to the
        other nodes: it rejoins only as a new incarnation, started again.
        """
        if self.fenced is not None or self._stopped:
            return
        self.fenced = errors.Error(
            NODE_DOWN,
            f"node {self.name} was cut off from the cluster ({reason}) and is down for the other "
            "nodes: start it again to rejoin",
            retryable=True,
            details={"node": self.name},
        )
        logger.warning("%s", self.fenced.message())
        current = asyncio.current_task()
        for task in self._tasks:
            if task is not current:
                task.cancel()
        for member in list(self.members.values()):
            self._member_down(
                member, self.node_down_error(member.name, "is out of reach: this node was cut off")
            )
        self.names.fence()
        asyncio.get_running_loop().create_task(self._close_fenced())
        for hook in self._fence_hooks:
            try:
                hook(self.fenced)
            except Exception:
                logger.exception("fence hook failed")

    async def _close_fenced(self) -> None:
        try:
            await self.nc.publish(f"{self.prefix}.hb", self._heartbeat("bye"))
            await self.nc.flush(timeout=1)
        except Exception:
            pass  # still cut off: the others declared us down anyway
        try:
            await self.nc.close()
        except Exception:
            logger.debug("closing the fenced connection failed", exc_info=True)

    async def _on_nats_error(self, exc: Exception) -> None:
        message = str(exc) or type(exc).__name__
        logger.debug("node %s: NATS: %s", self.name, message)
        # What the server said (a refused login) says more than the broken pipe after it.
        said = isinstance(exc, (nats.errors.Error, ssl.SSLError))
        if said or not self._nats_error_said:
            self._nats_error, self._nats_error_said = message, said
        if isinstance(exc, ssl.SSLError) and self.nc is None and self._refused is not None:
            self._refused.set()  # a certificate problem does not go away by trying again

    async def _on_disconnected(self) -> None:
        if not self._stopped and self.fenced is None:
            logger.info("node %s: disconnected from NATS, reconnecting", self.name)

    async def _on_reconnected(self) -> None:
        logger.info("node %s: reconnected to NATS", self.name)

    def run(self, coro: Any, timeout: float = _RPC_TIMEOUT) -> Any:
        """Run ``coro`` on the cluster's loop and wait (from any thread but the loop's)."""
        assert self.loop is not None
        if self.fenced is not None:
            coro.close()
            raise errors.Error(errors.UNAVAILABLE, self.fenced.message())
        try:
            return self.loop.run(coro, timeout)
        except concurrent.futures.TimeoutError:
            raise errors.Error(errors.TIMEOUT, "NATS did not answer in time", retryable=True) from None

    def submit(self, coro: Any) -> None:
        """Run ``coro`` on the cluster's loop without waiting (its failure is logged)."""
        assert self.loop is not None
        future = self.loop.submit(coro)
        future.add_done_callback(_log_failure)

    def __repr__(self) -> str:
        return (
            f"<Cluster {self.cluster_id} node={self.name}#{self.incarnation} members={self.member_names()}>"
        )


def _log_failure(future: concurrent.futures.Future[Any]) -> None:
    if future.cancelled():
        return
    exc = future.exception()
    if exc is not None:
        logger.debug("cluster operation failed: %s", exc)
