"""An app: a YAML registry loaded into a running node.

``App(path)`` loads and validates every entry first (nothing starts when any
entry is wrong).  ``start()`` turns the app into *units* (its process hosts,
the Temporal clients and workers, the service manager and each
``auto_start`` service, each ``http.service``, each ``python.module``, and
Wippy's resources: terminal hosts, env storages, databases, queues and
their consumers) and starts them in dependency order (see
:mod:`actorflow._lifecycle`); ``stop()`` stops them in reverse, one level's
units in parallel.

An app that keeps state in its state directory (an embedded Temporal server,
or ``actorflow run``'s control socket) holds the directory's lock while it
runs: a second run on the same directory is refused (see
:mod:`actorflow._statedir`).

With ``cluster.enabled`` (see :mod:`actorflow._cluster`) the app runs as one
node of a cluster: it joins after its hosts are up and before anything else
starts, each node of the app keeps its own state in
``STATE_DIR/nodes/NAME``, and the nodes of one machine share the embedded
NATS server of ``STATE_DIR/nats``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from actorflow._cluster import CLUSTER_UNIT, ClusterUnit, cluster_settings, node_dir
from actorflow._lifecycle import Runner, Unit, check_startup
from actorflow._statedir import StateLock
from actorflow._units import HostUnit, service_units, temporal_units
from actors import Node, errors, gcsettings
from actors.entries import AppLoadError, Problem, Registry, load_app
from actors.lua.pool import SHARED_STATE_MEMORY, StatePool
from actors.lua.process import process_factory
from actors.pid import PID
from actors.seam import SpawnRequest

__all__ = ["FALLBACK_HOST", "App", "Extension", "default_extensions", "load"]

logger = logging.getLogger("actorflow.app")

FALLBACK_HOST = "app:processes"

Extension = Callable[["App"], list[Unit] | None]
"""``units(app)``: the units a package runs for the app (the app starts them in dependency
order).  Called in order when the app starts, with the node made and nothing started yet:
an extension may also just prepare the node (register functions) and return ``None``."""


def default_extensions() -> list[Extension]:
    """The packages that run the non-process kinds (importing them registers the kinds)."""
    import cluster  # noqa: F401  (registers pg.scope and Lua's pg module)
    import supervision  # noqa: F401  (registers process.service)
    import temporal_bridge  # noqa: F401  (registers temporal.* and workflow.lua)
    import wippy_compat  # Wippy's app kinds and modules: terminal hosts, databases, queues…
    from actorflow import http
    from actorflow._python import python_units

    # Wippy's resources before the services: within a level, a service finds its queues running.
    return [temporal_units, wippy_compat.install, service_units, http.http_units, python_units]


def load(path: str | Path) -> Registry:
    """Load and validate the app at ``path`` with every kind known (what ``check`` does)."""
    default_extensions()
    registry = load_app(path)
    _check_app(registry)
    return registry


def _check_app(registry: Registry) -> None:
    problems = [
        Problem(_relative(entry.file, registry.root), entry.line, entry.id, message)
        for entry, message in check_startup(registry)
    ]
    if problems:
        raise AppLoadError(problems)


def _relative(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)


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
        temporal_ui: bool = False,
        lock: bool | None = None,
        cluster: dict[str, Any] | None = None,
    ) -> None:
        self.path = Path(path).resolve()
        self.lua_state_memory = lua_state_memory
        """The memory cap of each shared Lua state (entries with ``memory_limit`` get their own)."""
        self.lua_states = lua_states
        """How many shared Lua states the Lua processes are spread over (see ``actors.lua.pool``)."""
        self.temporal_ui = temporal_ui
        """Embedded Temporal servers also serve the Web UI (on loopback)."""
        self.lua_pool: StatePool | None = None
        # The extensions' packages register their kinds: load only after that.
        self._extensions = list(extensions) if extensions is not None else default_extensions()
        self.registry: Registry = load_app(self.path)
        _check_app(self.registry)
        base = Path(state_dir).resolve() if state_dir else self.registry.root / ".actorflow"
        self.cluster_settings = cluster_settings(self.registry.root, cluster)
        """The ``cluster`` settings (the project's ``.wippy.yaml``, then ``cluster``)."""
        self.shared_state_dir = base
        """The app's state directory, shared by its nodes on this machine (the embedded NATS server)."""
        self.state_dir = node_dir(base, self.cluster_settings.name) if self.cluster_settings.enabled else base
        """This run's own state: its lock, control socket, embedded Temporal server."""
        self.cluster: Any = None
        """The :class:`cluster.Cluster` this node joined, once started with ``cluster.enabled``."""
        self.node: Node | None = None
        self.units: list[Unit] = []
        self.runner = Runner()
        self.temporal: Any = None
        """The ``TemporalRuntime`` once started (clients, workers, the loop they run on)."""
        self.services: Any = None
        """The ``supervision.Services`` handle once started."""
        self.http: dict[str, Any] = {}
        """Running ``http.service`` servers by entry ID."""
        self._progress = progress or (lambda message: logger.info("%s", message))
        self.runner.progress = self._progress
        self._lock = StateLock(self.state_dir)
        uses_state = _uses_state_dir(self.registry) or self.cluster_settings.enabled
        self._wants_lock = uses_state if lock is None else lock
        self._stop_lock = threading.Lock()

    @property
    def default_host_id(self) -> str:
        """The host Lua processes and handlers run on unless told otherwise: the first ``process.host``."""
        hosts = self.registry.of_kind("process.host")
        return hosts[0].id if hosts else FALLBACK_HOST

    def progress(self, message: str) -> None:
        """Report a start-up step (the CLI prints them; quiet by default elsewhere)."""
        self._progress(message)

    # -- lifecycle ----------------------------------------------------------------------------

    def start(self, abort: threading.Event | None = None) -> App:
        """Start every unit in dependency order (``abort`` set: stop starting, raise ``CANCELED``)."""
        if self.node is not None:
            return self
        if self._wants_lock:
            self._lock.acquire()
        node = Node(default_host="")
        node.default_host_id = self.default_host_id
        node.kinds.entries = self.registry
        self.lua_pool = StatePool(max_memory=self.lua_state_memory, spread=self.lua_states)
        factory = process_factory(self.lua_pool)
        node.kinds.register_kind("process.lua", factory)
        node.kinds.register_kind("function.lua", factory)
        gcsettings.enter()  # the collector set for many live processes, until stop()
        self.node = node
        try:
            hosts = self.registry.of_kind("process.host")
            units: list[Unit] = [HostUnit(self, entry.id, entry) for entry in hosts]
            if not hosts:
                units.append(HostUnit(self, FALLBACK_HOST))
            for extension in self._extensions:
                units.extend(extension(self) or ())
            if self.cluster_settings.enabled:
                units = _joined_first(units, ClusterUnit(self, self.cluster_settings, self.shared_state_dir))
            self.units = units
            self.runner.start(units, abort)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Stop every unit in reverse dependency order, then the node; release the state directory."""
        with self._stop_lock:
            node = self.node
            if node is None:
                self._lock.release()
                return
            try:
                self.runner.stop()
                node.shutdown(timeout)
            finally:
                self.node = None
                self._lock.release()
                gcsettings.leave()

    def __enter__(self) -> App:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def _started(self) -> list[Any]:
        """What the packages started, in start order (the Temporal runtime first; older tests use it)."""
        return [started for started in (self.temporal, self.services) if started is not None]

    def process_hosts(self) -> list[Any]:
        """The process hosts the app started (its ``process.host`` entries, each HTTP service's handlers)."""
        hosts = []
        for unit in self.units:
            host = getattr(unit, "host", None) or getattr(unit, "handlers", None)
            if host is not None and hasattr(host, "pids"):
                hosts.append(host)
        return hosts

    def require_node(self) -> Node:
        if self.node is None:
            raise errors.Error(errors.UNAVAILABLE, "the app is not started")
        return self.node

    _require_node = require_node

    # -- running things -----------------------------------------------------------------------

    def spawn(self, entry_id: str, *args: Any, host: str | None = None, **options: Any) -> PID:
        node = self.require_node()
        return node.spawn(entry_id, *args, host=host or self.host_for(entry_id), **options)

    def exec(self, entry_id: str, *args: Any, host: str | None = None, timeout: float | None = None) -> Any:
        """Run ``entry_id`` to completion; its value, or its error raised."""
        node = self.require_node()
        return node.exec(entry_id, *args, host=host or self.host_for(entry_id), timeout=timeout)

    def start_entry(
        self, entry_id: str, args: tuple[Any, ...], host: str | None, on_exit: Callable[[Any, Any], None]
    ) -> PID:
        """Spawn ``entry_id`` with ``on_exit(value, error)`` called when it ends (never missed)."""
        node = self.require_node()
        request = SpawnRequest(entry_id, tuple(args), on_exit=on_exit)
        return node.spawn_request(request, host or self.host_for(entry_id))

    def is_workflow(self, entry_id: str) -> bool:
        entry = self.registry.get(entry_id)
        return entry is not None and entry.kind == "workflow.lua"

    def host_for(self, entry_id: str) -> str:
        """The host an entry runs on unless told otherwise."""
        entry = self.registry.require(entry_id)
        node = self.require_node()
        if entry.kind in ("process.lua", "function.lua"):
            return node.default_host_id
        worker = entry.meta_get("temporal.workflow.worker")
        if isinstance(worker, str):
            return entry.ref(worker)
        raise errors.Error(errors.INVALID, f"entry {entry_id} of kind {entry.kind} cannot be run directly")


def _joined_first(units: list[Unit], joining: ClusterUnit) -> list[Unit]:
    """``units`` with ``joining`` after the hosts (and what they need) and before everything else."""
    provider = {entry_id: unit for unit in units for entry_id in unit.provides}
    before: set[int] = set()
    pending = [unit for unit in units if isinstance(unit, HostUnit)]
    pending += [provider[entry_id] for entry_id in joining.requires if entry_id in provider]
    while pending:
        unit = pending.pop()
        if id(unit) in before:
            continue
        before.add(id(unit))
        pending.extend(provider[entry_id] for entry_id in unit.requires if entry_id in provider)
    for unit in units:
        if id(unit) not in before:
            unit.requires = unit.requires | {CLUSTER_UNIT}
    return [*units, joining]


def _uses_state_dir(registry: Registry) -> bool:
    """True when the app keeps state in its state directory (an embedded Temporal server)."""
    return any(
        not entry.get("address") and entry.get("server") != "time_skipping"
        for entry in registry.of_kind("temporal.client")
    )
