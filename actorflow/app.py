"""An app: a YAML registry loaded into a running node.

``App(path)`` loads and validates every entry first (nothing starts when any
entry is wrong), then ``start()`` creates the hosts the registry declares and
hands the registry to the packages that own the other kinds (supervision for
``process.service``, the Temporal bridge for ``temporal.*`` and
``workflow.lua``).  ``stop()`` undoes it in reverse order.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from actors import Node, ProcessHost, errors
from actors.entries import Registry, load_app
from actors.lua.pool import SHARED_STATE_MEMORY, StatePool
from actors.lua.process import process_factory
from actors.pid import PID

__all__ = ["App", "Extension"]

logger = logging.getLogger("actorflow.app")

FALLBACK_HOST = "app:processes"

Extension = Callable[["App"], Any]
"""``install(app)`` → an object with ``stop()`` (or ``None``), run at start in order."""


class App:
    """A loaded, validated app and (once started) its running node."""

    def __init__(
        self,
        path: str | Path,
        *,
        state_dir: str | Path | None = None,
        extensions: list[Extension] | None = None,
        progress: Callable[[str], None] | None = None,
        lua_state_memory: int | None = SHARED_STATE_MEMORY,
        lua_states: int = 8,
    ) -> None:
        self.path = Path(path).resolve()
        self.lua_state_memory = lua_state_memory
        """The memory cap of each shared Lua state (entries with ``memory_limit`` get their own)."""
        self.lua_states = lua_states
        """How many shared Lua states the Lua processes are spread over (see ``actors.lua.pool``)."""
        self.lua_pool: StatePool | None = None
        # The extensions' packages register their kinds: load only after that.
        self._extensions = list(extensions) if extensions is not None else default_extensions()
        self.registry: Registry = load_app(self.path)
        self.state_dir = Path(state_dir) if state_dir else self.registry.root / ".actorflow"
        self.node: Node | None = None
        self._started: list[Any] = []
        self._progress = progress or (lambda message: logger.info("%s", message))

    # -- lifecycle ----------------------------------------------------------------------------

    def start(self) -> App:
        if self.node is not None:
            return self
        hosts = self.registry.of_kind("process.host")
        default_host = hosts[0].id if hosts else FALLBACK_HOST
        node = Node(default_host="")
        node.default_host_id = default_host
        node.kinds.entries = self.registry
        self.lua_pool = StatePool(max_memory=self.lua_state_memory, spread=self.lua_states)
        factory = process_factory(self.lua_pool)
        node.kinds.register_kind("process.lua", factory)
        node.kinds.register_kind("function.lua", factory)
        self.node = node
        try:
            if not hosts:
                node.add_host(ProcessHost(node, FALLBACK_HOST))
                self._progress(f"started host {FALLBACK_HOST} (default)")
            for entry in hosts:
                workers = (entry.get("host") or {}).get("workers")
                host = node.add_host(ProcessHost(node, entry.id, workers=workers))
                self._progress(f"started host {entry.id} ({host.workers} workers)")
            for install in self._extensions:
                started = install(self)
                if started is not None:
                    self._started.append(started)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self, timeout: float = 10.0) -> None:
        node = self.node
        if node is None:
            return
        for started in reversed(self._started):
            try:
                started.stop()
            except Exception:
                logger.exception("stopping %r failed", started)
        self._started.clear()
        node.shutdown(timeout)
        self.node = None

    def __enter__(self) -> App:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- running things -----------------------------------------------------------------------

    def spawn(self, entry_id: str, *args: Any, host: str | None = None, **options: Any) -> PID:
        node = self._require_node()
        return node.spawn(entry_id, *args, host=host or self.host_for(entry_id), **options)

    def exec(self, entry_id: str, *args: Any, host: str | None = None, timeout: float | None = None) -> Any:
        """Run ``entry_id`` to completion; its value, or its error raised."""
        node = self._require_node()
        return node.exec(entry_id, *args, host=host or self.host_for(entry_id), timeout=timeout)

    def host_for(self, entry_id: str) -> str:
        """The host an entry runs on unless told otherwise."""
        entry = self.registry.require(entry_id)
        node = self._require_node()
        if entry.kind in ("process.lua", "function.lua"):
            return node.default_host_id
        worker = entry.meta_get("temporal.workflow.worker")
        if isinstance(worker, str):
            return entry.ref(worker)
        raise errors.Error(errors.INVALID, f"entry {entry_id} of kind {entry.kind} cannot be run directly")

    def _require_node(self) -> Node:
        if self.node is None:
            raise errors.Error(errors.UNAVAILABLE, "the app is not started")
        return self.node


def default_extensions() -> list[Extension]:
    """The packages that own the non-process kinds, in start order."""
    import supervision
    import temporal_bridge

    return [temporal_bridge.install, supervision.install]
