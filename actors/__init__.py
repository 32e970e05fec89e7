"""actors: Erlang-style processes for Python.

Every process has a PID, a mailbox, topics, links and monitors, whatever runs
it: a Python actor (pykka), a Lua process, or a durable workflow on Temporal.
"""

import logging

from actors import errors
from actors._process import current_process
from actors.actor import Actor, ActorRef
from actors.channel import Channel, ChannelClosed, select
from actors.coprocess import ProcessContext
from actors.errors import Error
from actors.events import CANCEL, EXIT, LINK_DOWN, Cancel, Exit, LinkDown, Message
from actors.host import ProcessHost
from actors.limits import Limits
from actors.local import LocalNode
from actors.node import DEFAULT_HOST, default_node
from actors.pid import PID
from actors.seam import Host, SpawnRequest
from actors.testing import Probe

Node = LocalNode
"""``Node()``: a node with a default process host (:class:`actors.local.LocalNode`);
the core it extends, which knows hosts only through :class:`Host`, is
:class:`actors.node.Node`."""

__all__ = [
    "CANCEL",
    "DEFAULT_HOST",
    "EXIT",
    "LINK_DOWN",
    "PID",
    "Actor",
    "ActorRef",
    "Cancel",
    "Channel",
    "ChannelClosed",
    "Error",
    "Exit",
    "Host",
    "Limits",
    "LinkDown",
    "Message",
    "Node",
    "Probe",
    "ProcessContext",
    "ProcessHost",
    "SpawnRequest",
    "current_process",
    "default_node",
    "errors",
    "select",
]

# A library stays quiet unless the application configures logging.
logging.getLogger("actors").addHandler(logging.NullHandler())
