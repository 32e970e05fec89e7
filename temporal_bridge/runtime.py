"""Wiring an app's ``temporal.*`` entries: clients, workers, hosts and peers.

For each ``temporal.client`` a client connects (to ``address``, or to an
embedded dev server started for it with its state under the app's state
directory) and becomes the node's peer for that client's workflow PIDs.  For
each ``temporal.worker`` a temporalio worker polls the task queue with the
dynamic Lua workflow and the function activities, and a
:class:`~temporal_bridge.host.WorkflowHost` makes ``process.spawn(entry,
worker_id, …)`` start workflows on it.  ``stop()`` undoes everything in reverse.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from temporalio.client import Client, TLSConfig
from temporalio.runtime import LogForwardingConfig, LoggingConfig, Runtime, TelemetryConfig
from temporalio.worker import Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from actors import errors
from actors.durations import duration_seconds
from actors.entries import Entry, Registry
from actors.loopthread import LoopThread
from actors.lua import process as _lua_process  # noqa: F401  (registers how Entry.lua_code() is built)
from temporal_bridge import _workers
from temporal_bridge.activities import entry_activity, relay, run_function
from temporal_bridge.converter import data_converter
from temporal_bridge.entries import workflow_type_name
from temporal_bridge.host import TemporalPeer, WorkflowHost
from temporal_bridge.interceptors import ActorflowInterceptor
from temporal_bridge.server import DEFAULT_SQLITE_PRAGMAS, DevServer, time_skipping_environment
from temporal_bridge.settings import HEALTH_CHECK_INTERVAL, HealthCheck, keep_alive, worker_settings
from temporal_bridge.workflow import LuaWorkflow

__all__ = ["PASSTHROUGH_MODULES", "TemporalRuntime", "install", "worker_config", "workflow_runner"]

logger = logging.getLogger("temporal_bridge")

PASSTHROUGH_MODULES = ("actors", "temporal_bridge", "lupa", "msgpack", "yaml", "pykka", "cryptography")
"""Modules the workflow sandbox shares with the worker instead of re-importing."""


def workflow_runner() -> SandboxedWorkflowRunner:
    """The sandboxed runner with actorflow's own modules passed through."""
    return SandboxedWorkflowRunner(
        restrictions=SandboxRestrictions.default.with_passthrough_modules(*PASSTHROUGH_MODULES)
    )


_core_logs_set = False


def core_logs_through_logging() -> None:
    """The SDK core's log lines go through Python's ``logging`` (``temporalio.core``).

    By default the core prints them on stdout, where ``actorflow exec`` prints
    its result (a failed workflow task's warning, with the failure, came before
    the JSON: issue 12, defect 7).  Only the default runtime is set, once, and
    only if nothing made it yet (clients made meanwhile keep theirs).
    """
    global _core_logs_set
    if _core_logs_set:
        return
    _core_logs_set = True
    forwarding = LogForwardingConfig(
        logger=logging.getLogger("temporalio.core"),
        append_target_to_name=False,
        prepend_target_on_message=False,
    )
    runtime = Runtime(
        telemetry=TelemetryConfig(
            logging=LoggingConfig(filter=LoggingConfig.default.filter, forwarding=forwarding)
        )
    )
    try:
        Runtime.set_default(runtime, error_if_already_set=True)
    except RuntimeError:
        pass  # a runtime is in use already: its logs stay where they go


class TemporalRuntime:
    """The Temporal side of one running app."""

    def __init__(
        self,
        registry: Registry,
        node: Any,
        state_dir: Path,
        progress: Callable[[str], None],
        *,
        ui: bool = False,
    ) -> None:
        self.registry = registry
        self.ui = ui
        """Embedded dev servers also serve the Temporal Web UI (on loopback)."""
        self.node = node
        self.state_dir = state_dir
        self.progress = progress
        self.loop: LoopThread | None = None
        self.servers: dict[str, DevServer] = {}
        self.clients: dict[str, Client] = {}
        self.peers: dict[str, TemporalPeer] = {}
        self.workers: dict[str, Worker] = {}
        self.configs: list[_workers.WorkerConfig] = []
        self.environments: list[Any] = []
        self.health: dict[str, HealthCheck] = {}
        """The health checks of the clients with ``health_check.enabled``, by client ID."""
        self._stop_timeouts: dict[str, float] = {}
        self._runs: list[Any] = []

    def start(self) -> TemporalRuntime:
        clients = self.registry.of_kind("temporal.client")
        if not clients:
            return self
        core_logs_through_logging()
        self.loop = LoopThread("temporal-loop")
        try:
            for entry in clients:
                self._start_client(entry)
            for entry in self.registry.of_kind("temporal.worker"):
                self._start_worker(entry)
        except BaseException:
            self.stop()
            raise
        return self

    # -- clients -------------------------------------------------------------------------------

    def _start_client(self, entry: Entry) -> None:
        assert self.loop is not None
        namespace = str(entry.get("namespace") or "default")
        address = entry.get("address")
        if entry.get("server") == "time_skipping":
            self._start_time_skipping(entry)
            return
        if not address:
            server = DevServer(
                self.state_dir / "temporal" / entry.name,
                namespaces=(namespace,),
                search_attributes=dict(entry.get("search_attributes") or {}),
                sqlite_pragmas=entry.get("sqlite_pragmas", DEFAULT_SQLITE_PRAGMAS),
                ui=self.ui,
            )
            address = server.start()
            self.servers[entry.id] = server
            self.progress(f"started embedded Temporal dev server for {entry.id} on {address}")
        tls: Any = tls_config(entry.get("tls"), entry.get("auth"))
        api_key = _api_key(entry.get("auth"))
        timeout = _seconds(entry.get("connection_timeout"), 30.0)
        keep_alive_config = keep_alive(entry.data)

        async def connect() -> Client:
            return await Client.connect(
                str(address),
                namespace=namespace,
                data_converter=data_converter,
                interceptors=[ActorflowInterceptor()],
                tls=tls,
                api_key=api_key,
                keep_alive_config=keep_alive_config,
            )

        client = self._connect(entry, str(address), connect, timeout)
        self.clients[entry.id] = client
        peer = TemporalPeer(self.node, entry.id, client, self.loop)
        self.peers[entry.id] = peer
        self.node.add_peer(entry.id, peer)
        self.progress(f"connected {entry.id} to {address} (namespace {namespace})")
        self._start_health_check(entry, client)

    def _start_health_check(self, entry: Entry, client: Client) -> None:
        """``health_check: {enabled: true}``: the client asks the server every ``interval``."""
        health = entry.get("health_check") or {}
        if health.get("enabled") is not True:
            return
        assert self.loop is not None
        interval = _seconds(health.get("interval"), HEALTH_CHECK_INTERVAL, "health_check.interval")
        check = HealthCheck(entry.id, lambda: client.service_client.check_health(), interval)
        self.health[entry.id] = check
        self._runs.append(self.loop.submit(check.run()))

    def _connect(self, entry: Entry, address: str, connect: Callable[[], Any], timeout: float) -> Client:
        """Connect, trying again until ``timeout`` seconds have passed; ``UNAVAILABLE`` error after.

        A server that refuses the connection may be starting (a dev server we just
        started opens its port before its frontend is healthy: "Frontend is not
        healthy yet"), so connection failures are retried; any other failure is
        reported at once.  Either way the app start gets an ``Error``, never the
        SDK's ``RuntimeError``.
        """
        assert self.loop is not None

        async def attempts() -> Client:
            loop = asyncio.get_running_loop()
            deadline = loop.time() + timeout
            while True:
                try:
                    return await asyncio.wait_for(connect(), max(deadline - loop.time(), 0.01))
                except TimeoutError:
                    raise errors.Error(
                        errors.UNAVAILABLE,
                        f"cannot connect to Temporal at {address} ({entry.id}): "
                        f"no answer within connection_timeout ({timeout:g} s)",
                        retryable=True,
                    ) from None
                except RuntimeError as exc:
                    reason = str(exc)
                    unreachable = "connection error" in reason or "not healthy yet" in reason
                    if not unreachable:
                        raise errors.Error(
                            errors.UNAVAILABLE,
                            f"cannot connect to Temporal at {address} ({entry.id}): {reason}",
                        ) from None
                    if loop.time() + _CONNECT_PAUSE > deadline:
                        raise errors.Error(
                            errors.UNAVAILABLE,
                            f"cannot connect to Temporal at {address} ({entry.id}) within "
                            f"connection_timeout ({timeout:g} s): {_short(reason)}",
                            retryable=True,
                        ) from None
                await asyncio.sleep(_CONNECT_PAUSE)

        try:
            return self.loop.run(attempts(), timeout + 5)
        except concurrent.futures.TimeoutError:
            raise errors.Error(
                errors.UNAVAILABLE,
                f"cannot connect to Temporal at {address} ({entry.id}): "
                f"no answer within connection_timeout ({timeout:g} s)",
                retryable=True,
            ) from None

    def _start_time_skipping(self, entry: Entry) -> None:
        """The time-skipping test server: hours of durable sleep pass in moments."""
        assert self.loop is not None

        async def start() -> Any:
            return await time_skipping_environment(interceptors=[ActorflowInterceptor()])

        environment = self.loop.run(start(), timeout=120)
        self.environments.append(environment)
        client = environment.client
        self.clients[entry.id] = client
        peer = TemporalPeer(self.node, entry.id, client, self.loop, time_skipping=environment)
        self.peers[entry.id] = peer
        self.node.add_peer(entry.id, peer)
        self.progress(f"started the time-skipping test server for {entry.id}")

    # -- workers ---------------------------------------------------------------------------------

    def _start_worker(self, entry: Entry) -> None:
        assert self.loop is not None
        client_id = entry.ref(str(entry.get("client")))
        client = self.clients[client_id]
        config = worker_config(self.registry, entry, client.namespace)
        settings = worker_settings(entry.get("worker_options"))
        config.task_budget = settings.task_budget
        config.log_in_replay = settings.log_in_replay
        config.node = self.node
        config.process_host = self.node.default_host_id
        queue = config.task_queue
        _workers.register(config)
        self.configs.append(config)
        host = WorkflowHost(self.peers[client_id], config)
        self.node.add_host(host)
        lifecycle = entry.get("lifecycle") or {}
        if lifecycle.get("auto_start") is False:
            self.progress(f"{entry.id}: not polling {queue} (lifecycle.auto_start is false)")
            return
        self._stop_timeouts[entry.id] = _seconds(
            lifecycle.get("stop_timeout"), 30.0, "lifecycle.stop_timeout"
        )
        own = [
            entry_activity(entry_id)
            for entry_id, spec in config.activities.items()
            if spec.worker_id == entry.id
        ]

        async def make_worker() -> Worker:  # temporalio builds workers inside a running loop
            return Worker(
                client,
                task_queue=queue,
                workflows=[LuaWorkflow] if settings.workflows else [],
                activities=[run_function, relay, *own],
                workflow_runner=workflow_runner(),
                **settings.kwargs,
            )

        worker = self.loop.run(make_worker())
        self.workers[entry.id] = worker
        self._runs.append(self.loop.submit(worker.run()))
        what = f"{len(config.workflows)} workflows" if settings.workflows else "activities only"
        self.progress(f"worker {entry.id} polling {queue} ({what})")

    # -- stopping -----------------------------------------------------------------------------------

    def stop(self) -> None:
        loop = self.loop
        if loop is not None:
            for worker_id, worker in reversed(list(self.workers.items())):
                try:
                    loop.run(worker.shutdown(), timeout=self._stop_timeouts.get(worker_id, 30.0))
                except Exception:
                    logger.exception("stopping a worker failed")
            for peer in self.peers.values():
                peer.stop()
        for config in self.configs:
            _workers.unregister(config)
        if loop is not None:
            for environment in self.environments:
                try:
                    loop.run(environment.shutdown(), timeout=30)
                except Exception:
                    logger.exception("stopping the time-skipping server failed")
            loop.stop()
        self.environments.clear()
        for server in reversed(list(self.servers.values())):
            server.stop()
        self.workers.clear()
        self.configs.clear()
        self.servers.clear()
        self.loop = None


def worker_config(registry: Registry, entry: Entry, namespace: str) -> _workers.WorkerConfig:
    """What the workflows of a ``temporal.worker`` entry need (without a node)."""
    client_id = entry.ref(str(entry.get("client")))
    prefix = str(registry.require(client_id).get("tq_prefix") or "")
    config = _workers.WorkerConfig(
        client_id=client_id,
        worker_id=entry.id,
        namespace=namespace,
        task_queue=prefix + str(entry.get("task_queue")),
    )
    for workflow_entry in registry.of_kind("workflow.lua"):
        type_name = workflow_type_name(workflow_entry)
        config.entry_types[workflow_entry.id] = type_name
        worker_ref = workflow_entry.meta_get("temporal.workflow.worker")
        # Without meta.temporal.workflow.worker the runtime registers nothing; seed 004
        # declares its workflow that way and spawns it on the worker it names, so such
        # an entry is registered on every worker (the spawn's host picks the queue).
        if worker_ref is None or (isinstance(worker_ref, str) and workflow_entry.ref(worker_ref) == entry.id):
            config.workflows[type_name] = workflow_entry.lua_code()
    for other in registry.of_kind("temporal.worker"):
        if other.ref(str(other.get("client"))) == client_id:
            config.worker_queues[other.id] = prefix + str(other.get("task_queue"))
    for function_entry in registry.of_kind("function.lua", "process.lua"):
        activity_worker = function_entry.meta_get("temporal.activity.worker")
        if not isinstance(activity_worker, str):
            continue  # no meta: the dynamic activity runs it on any worker (funcs.call's target)
        worker_id = function_entry.ref(activity_worker)
        worker_entry = registry.get(worker_id)
        worker_prefix = ""
        if worker_entry is not None:
            worker_client = registry.get(worker_entry.ref(str(worker_entry.get("client"))))
            worker_prefix = str(worker_client.get("tq_prefix") or "") if worker_client is not None else ""
        config.activities[function_entry.id] = _workers.ActivitySpec(
            worker_id=worker_id,
            task_queue=worker_prefix + str(worker_entry.get("task_queue") if worker_entry else ""),
            local=function_entry.meta_get("temporal.activity.local") is True,
        )
    return config


_CONNECT_PAUSE = 0.1
"""Seconds between connection attempts while a Temporal server is unreachable."""


def _short(reason: str) -> str:
    """The readable part of a connection error from the SDK's core (no Rust debug dump)."""
    for marker in ("tcp connect error", "Connection refused", "not healthy yet", "dns error"):
        if marker in reason:
            return marker
    return reason.split(": ", 1)[-1][:200]


def _seconds(value: Any, default: float, what: str = "connection_timeout") -> float:
    if value is None:
        return default
    return duration_seconds(value, what=what)


def _expand(value: Any) -> Any:
    """``${env:NAME}`` placeholders in credential fields."""
    if isinstance(value, str) and value.startswith("${env:") and value.endswith("}"):
        return os.environ.get(value[len("${env:") : -1], "")
    return value


def tls_config(tls: Any, auth: Any = None) -> Any:
    """temporalio's ``tls`` argument from a client entry's ``tls`` and ``auth`` (mTLS) fields."""
    mtls = bool(auth) and auth.get("type") == "mtls"
    if not mtls and (not tls or not tls.get("enabled", True)):
        return False
    tls = tls or {}
    if tls.get("insecure_skip_verify"):
        raise errors.Error(
            errors.INVALID, "tls.insecure_skip_verify is not supported: give the server's CA in tls.ca_file"
        )
    ca = tls.get("ca_file")
    client_cert = client_key = None
    if mtls:
        client_cert = _pem(auth, "cert", ("cert_file", "cert_pem"))
        client_key = _pem(auth, "key", ("key_file", "key_pem", "key_pem_env"))
    return TLSConfig(
        server_root_ca_cert=Path(ca).read_bytes() if ca else None,
        domain=tls.get("server_name"),
        client_cert=client_cert,
        client_private_key=client_key,
    )


def _pem(auth: dict[str, Any], what: str, fields: tuple[str, ...]) -> bytes:
    """A PEM for mTLS from the first of ``fields`` given (a file, inline text, or an env variable)."""
    for name in fields:
        value = auth.get(name)
        if not value:
            continue
        value = _expand(value)
        if name.endswith("_file"):
            return Path(str(value)).read_bytes()
        if name.endswith("_env"):
            return os.environ.get(str(value), "").encode()
        return str(value).encode()
    raise errors.Error(errors.INVALID, f"auth.type mtls needs the client {what}: one of {', '.join(fields)}")


def _api_key(auth: Any) -> str | None:
    if not auth or auth.get("type", "none") != "api_key":
        return None
    if auth.get("api_key"):
        return str(_expand(auth["api_key"]))
    if auth.get("api_key_file"):
        return Path(str(auth["api_key_file"])).read_text().strip()
    if auth.get("api_key_env"):
        return os.environ.get(str(auth["api_key_env"]))
    raise errors.Error(errors.INVALID, "auth.type api_key needs api_key, api_key_file or api_key_env")


def install(app: Any) -> TemporalRuntime | None:
    """The actorflow extension: start the app's Temporal clients and workers."""
    if not app.registry.of_kind("temporal.client"):
        return None
    return TemporalRuntime(app.registry, app.node, app.state_dir, app._progress).start()
