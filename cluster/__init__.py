"""cluster: several actorflow nodes, on one machine or many, on NATS.

One node is one OS process.  Nodes that join a cluster address each other's
processes by PID (``{node2@app:processes|0x00001}``): send, link, monitor,
terminate, cancel, and spawn on another node's host (``node2@app:processes``),
with the rules of one node; a node's death is LINK_DOWN and EXIT (error kind
:data:`NODE_DOWN`) for everything that depended on it.  Names have Wippy's
scopes (local, eventual, consistent, strong), processes join groups, and
locks are cluster-wide.  Lua gets them through ``process.registry``, the
``pg`` module (:mod:`cluster.pg`, with the ``pg.scope`` kind) and
``system.lock``; an app runs as a node with ``actorflow run APP --node NAME``.
See ``docs/cluster.md``.

    node = Node()
    cluster = Cluster(node, "node1", state_dir="state/nats").start()
"""

from cluster import pg as _pg  # noqa: F401  (registers Lua's pg module and the pg.scope kind)
from cluster._core import NODE_DOWN, Cluster
from cluster.groups import DEFAULT_SCOPE, Groups, groups_of
from cluster.locks import Locks
from cluster.names import CONSISTENT, EVENTUAL, LOCAL, SCOPES, STRONG, ClusterNames
from cluster.peer import RemoteHost, RemotePeer
from cluster.server import EmbeddedNats, find_nats_server, stop_left_behind

__all__ = [
    "CONSISTENT",
    "DEFAULT_SCOPE",
    "EVENTUAL",
    "LOCAL",
    "NODE_DOWN",
    "SCOPES",
    "STRONG",
    "Cluster",
    "ClusterNames",
    "EmbeddedNats",
    "Groups",
    "Locks",
    "RemoteHost",
    "RemotePeer",
    "find_nats_server",
    "groups_of",
    "stop_left_behind",
]
