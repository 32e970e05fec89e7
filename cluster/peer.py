"""Other nodes behind the Host seam: the same PIDs, links and monitors as local processes.

* :class:`RemotePeer` is the node's peer for every other node's name
  (``Node.add_peer``), as a Temporal client is for its workflows: the node
  hands it whatever is sent to a PID whose node part is another node's name.
  A message or a signal goes into that node's outbox and leaves in the next
  frame; nothing waits.  Links and monitors that cross are remembered, so
  that the other node's death becomes LINK_DOWN and EXIT events here.
* :class:`RemoteHost` is a host of another node (``node2@app:processes``):
  spawning on it is a call to that node, which spawns on its own host.

A send to a PID of a node that is down (or was never seen), or of an earlier
life of a node that restarted (its incarnation says so, see
``Member.outlived``), is a dead letter: ``Node.send`` raises ``NOT_FOUND`` at
once, as for a local process that ended.  A send to a live node is delivered
at most once: a process that ended over there drops it, as Erlang does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from actors import codec, errors
from actors.pid import PID
from actors.seam import ExitCallback, Host, SpawnRequest, StartMessage
from actors.signals import Item, Signal
from cluster._wire import ENDED, STARTED, encode_value, item_entry, packed

if TYPE_CHECKING:
    from cluster._core import Cluster

__all__ = ["RemoteHost", "RemotePeer", "serve_spawn", "serve_watch"]

_MSG = Signal.MSG
_LINK_ENDS = frozenset((Signal.UNLINK, Signal.LINK_GONE, Signal.LINK_DOWN, Signal.LINK_EXIT))
_LOCAL_ONLY = frozenset((Signal.ENVELOPE, Signal.CALL))
"""Items that carry Python objects (a pykka request, a function): they never cross."""


class RemotePeer(Host):
    """The peer of every other node: mailbox items for their processes go to their outboxes.

    It runs nothing here: no spawn (a spawn names a host, ``node@host``: a
    :class:`RemoteHost`), no process objects, and the base class's ``wait``
    (built on :meth:`watch`) and ``deliver_if_alive`` (a link or monitor
    request goes out; a process of a live node that has already ended answers
    it with an EXIT or LINK_DOWN carrying ``NOT_FOUND``, Erlang's ``noproc``).
    """

    in_memory = True  # a delivery only appends to an outbox; nothing waits
    names_are_local = False

    def __init__(self, cluster: Cluster) -> None:
        self.id = f"cluster:{cluster.name}"
        self.cluster = cluster

    def deliver(self, pid: PID, item: Item) -> bool:
        """Queue ``item`` for ``pid``'s node; False when that node is down or unknown.

        A link or monitor is remembered, so the node's death becomes a LINK_DOWN
        or EXIT here; a message over the frame limit is ``LIMIT_EXCEEDED``.
        """
        tag = item[0]
        member = self.cluster.members.get(pid.node)
        if (
            member is None
            or member.down
            or tag in _LOCAL_ONLY
            or (member.incarnation > 1 and member.outlived(pid))
        ):
            if tag == Signal.ENVELOPE:
                item[2](pid, item[1])  # refuse the pykka request: an ask fails at once
            return False
        if tag == _MSG:
            self.cluster.check_size(member, item[3])
        else:
            sender = item[1]
            with member.lock:
                if member.down:
                    return False
                if tag == Signal.LINK:
                    member.links.add((sender, pid))
                elif tag in _LINK_ENDS:
                    member.links.discard((sender, pid))
                elif tag == Signal.MONITOR:
                    member.monitors.add((sender, pid))
                elif tag == Signal.DEMONITOR:
                    member.monitors.discard((sender, pid))
        self.cluster.enqueue(member, item_entry(pid, item))
        return True

    def is_alive(self, pid: PID) -> bool:
        """Asks ``pid``'s node (a round trip); False at once when the node is down or restarted since."""
        member = self.cluster.members.get(pid.node)
        if member is None or member.down or member.outlived(pid):
            return False
        try:
            return bool(self.cluster.call(member, "alive", [pid]))
        except errors.Error:
            return False

    def watch(self, pid: PID, callback: ExitCallback) -> None:
        """Call ``callback(value, error)`` once ``pid`` ends; a ``NODE_DOWN`` error if its node goes."""
        member = self.cluster.members.get(pid.node)
        if member is None or member.down:
            callback(None, self.cluster.node_down_error(pid.node))
            return
        if member.outlived(pid):
            callback(
                None, errors.Error(errors.NOT_FOUND, f"process {pid} not found (node {pid.node} restarted)")
            )
            return
        token = self.cluster.new_token()
        with member.lock:
            if member.down:
                callback(None, self.cluster.node_down_error(pid.node))
                return
            member.watches[token] = callback
        try:
            self.cluster.call(member, "watch", [pid, token])
        except errors.Error as err:
            with member.lock:
                dropped = member.watches.pop(token, None)
            if dropped is not None:
                callback(None, err)


class RemoteHost(Host):
    """A host of another node (``node2@app:processes``): ``spawn`` asks that node to spawn
    on its host; everything else about its processes goes through the :class:`RemotePeer`."""

    in_memory = False  # a spawn waits for the other node's answer
    names_are_local = False  # the other node keeps the spawn's name (spawn-or-signal there)

    def __init__(self, cluster: Cluster, node_name: str, host_id: str) -> None:
        self.id = f"{node_name}@{host_id}"
        self.node_name = node_name
        self.host_id = host_id
        self.cluster = cluster

    def spawn(self, request: SpawnRequest) -> PID:
        cluster = self.cluster
        member = cluster.members.get(self.node_name)
        if member is None or member.down:
            raise errors.Error(errors.UNAVAILABLE, f"node {self.node_name} is down", retryable=True)
        target = request.target
        if not isinstance(target, str):
            raise errors.Error(
                errors.INVALID,
                f"cannot spawn {target!r} on node {self.node_name}: only entry IDs and targets "
                "registered with Cluster.register_target cross nodes",
            )
        blob = codec.dumps([list(request.args), request.kwargs, request.context, request.options])
        messages = [[m.topic, [encode_value(p) for p in m.payloads]] for m in request.messages]
        exit_token = started_token = None
        with member.lock:
            if request.on_exit is not None:
                exit_token = cluster.new_token()
                member.watches[exit_token] = request.on_exit
            if request.on_started is not None:
                started_token = cluster.new_token()
                member.started[started_token] = request.on_started
        spec = [
            self.host_id,
            target,
            blob,
            request.parent,
            request.link,
            request.monitor,
            request.name,
            messages,
            exit_token,
            started_token,
        ]
        try:
            pid = cluster.call(member, "spawn", spec)
        except errors.Error:
            with member.lock:
                member.watches.pop(exit_token, None)  # type: ignore[arg-type]
                member.started.pop(started_token, None)  # type: ignore[arg-type]
            raise
        parent = request.parent
        if parent is not None and (request.link or request.monitor):
            with member.lock:
                if request.link:
                    member.links.add((parent, pid))
                if request.monitor:
                    member.monitors.add((parent, pid))
        return pid

    def deliver(self, pid: PID, item: Item) -> bool:
        return self.cluster.peer.deliver(pid, item)

    def is_alive(self, pid: PID) -> bool:
        return self.cluster.peer.is_alive(pid)

    def watch(self, pid: PID, callback: ExitCallback) -> None:
        self.cluster.peer.watch(pid, callback)


def serve_spawn(cluster: Cluster, member: Any, spec: list[Any]) -> PID:
    """The other side of :meth:`RemoteHost.spawn`: spawn on this node for ``member``."""
    host_id, target, blob, parent, link, monitor, name, messages, exit_token, started_token = spec
    args, kwargs, context, options = codec.loads(blob)
    request = SpawnRequest(
        cluster.targets.get(target, target),
        tuple(args),
        parent,
        bool(link),
        bool(monitor),
        name,
        context,
        options,
        tuple(StartMessage(topic, tuple(packed(p) for p in payloads)) for topic, payloads in messages),
        kwargs or None,
    )
    if exit_token is not None:

        def ended(value: Any, error: errors.Error | None) -> None:
            cluster.enqueue(member, [ENDED, exit_token, encode_value(codec.encode(value)), error])

        request.on_exit = ended
    if started_token is not None:
        request.on_started = lambda pid: cluster.enqueue(member, [STARTED, started_token, pid])
    pid = cluster.node.spawn_request(request, host_id)
    if parent is not None and link:
        with member.lock:
            if not member.down:
                member.links.add((pid, parent))
    return pid


def serve_watch(cluster: Cluster, member: Any, pid: PID, token: int) -> bool:
    def ended(value: Any, error: errors.Error | None) -> None:
        cluster.enqueue(member, [ENDED, token, encode_value(codec.encode(value)), error])

    host = cluster.node.host(pid.host)
    host.watch(pid, ended)
    return True
