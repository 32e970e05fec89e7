"""``actors.Node``: the core :class:`~actors.node.Node` wired for one OS process.

The core node routes by PID and knows hosts only through the Host seam; this
module is where the pieces meet: the spawnable kinds (:class:`~actors.kinds.Kinds`:
actors, coroutine functions, entry kinds registered by other packages), a
default :class:`~actors.host.ProcessHost`, and the pykka conveniences
(``start`` returns an ``ActorRef``).  ``Node()`` in user code is this class.
"""

from __future__ import annotations

from typing import Any

from actors import errors
from actors.actor import ActorRef, actor_ref_of
from actors.host import ProcessHost
from actors.kinds import Kinds
from actors.node import DEFAULT_HOST, set_default_factory
from actors.node import Node as CoreNode
from actors.pid import PID

__all__ = ["LocalNode"]


class LocalNode(CoreNode):
    """A node with the process kinds and, unless ``default_host`` is empty, a
    :class:`~actors.host.ProcessHost` of ``workers`` threads under that ID.

    ``LocalNode(default_host="")`` starts no host: add your own with
    :meth:`~actors.node.Node.add_host` (an app adds one per ``process.host``).
    """

    def __init__(
        self, name: str = "local", *, workers: int | None = None, default_host: str = DEFAULT_HOST
    ) -> None:
        super().__init__(name, kinds=Kinds(), default_host=default_host)
        if default_host:
            self.add_host(ProcessHost(self, default_host, workers=workers))

    def start(self, actor_class: type, *args: Any, **kwargs: Any) -> ActorRef:
        """Spawn an :class:`~actors.Actor` and return its pykka ``ActorRef`` (with ``.pid``)."""
        return self.actor_ref(self.spawn(actor_class, *args, **kwargs))

    def actor_ref(self, dest: PID | str) -> ActorRef:
        """The ``ActorRef`` of a live local actor; ``NOT_FOUND`` otherwise."""
        pid = self.resolve(dest)
        ref = actor_ref_of(self.process(pid))
        if ref is None:
            raise errors.Error(errors.NOT_FOUND, f"{pid} is not a live actor")
        return ref


set_default_factory(LocalNode)
