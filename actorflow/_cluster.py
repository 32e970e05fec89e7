"""An app's node in a cluster: Wippy's ``cluster`` settings, and the unit that joins.

Where the settings come from, later ones winning (as ``wippy run`` reads them):

1. the ``cluster:`` section of the project's ``.wippy.yaml`` (Wippy's config
   file, beside ``src/``), when the app is a Wippy project;
2. ``App(..., cluster={...})``; on the command line, ``--set cluster.KEY=VALUE``
   (Wippy's flag; the value is read as YAML) and ``--node NAME``, short for
   ``--set cluster.enabled=true --set cluster.name=NAME``.

Keys (Wippy's where Wippy has one; ``nats.*`` are actorflow's, since the nodes
talk through NATS rather than gossip)::

    cluster:
      enabled: true            # default false
      name: node-1             # the node part of its PIDs; default: the host name
      heartbeat_interval: 500ms
      failure_timeout: 3s      # a silent node is down after this (at most 5 s as issue 16 asks)
      nats:
        address: nats://nats-1:4222     # or a list; absent: the embedded server
        namespace: billing     # several apps on one NATS (default: actorflow)
        credentials: /etc/actorflow/node.creds
        user: ..., password: ..., token: ...
        tls: {ca: ca.pem, cert: node.pem, key: node.key}

Wippy's own transport keys (``membership``, ``internode``, ``raft``,
``failure_domain``) are accepted and unused.

The state directory of a clustered app is shared by its nodes on one machine:
``STATE_DIR/nats`` holds the embedded NATS server, and each node keeps its
own run's state (its lock, control socket, embedded Temporal server) in
``STATE_DIR/nodes/NAME``, so ``actorflow run APP --node a`` and ``--node b``
run side by side.
"""

from __future__ import annotations

import logging
import re
import socket
import ssl
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from actorflow._lifecycle import Lifecycle
from actors import errors
from actors.durations import duration_seconds
from actors.entries import bounded_yaml

if TYPE_CHECKING:
    from actorflow.app import App

__all__ = [
    "CLUSTER_UNIT",
    "CONFIG_FILE",
    "ClusterSettings",
    "ClusterUnit",
    "cluster_settings",
    "node_dir",
    "parse_set",
]

logger = logging.getLogger("actorflow.cluster")

CONFIG_FILE = ".wippy.yaml"
CLUSTER_UNIT = "cluster"
"""What the cluster unit provides: every unit but the hosts requires it (joined before they start)."""

_KEYS = {"enabled", "name", "heartbeat_interval", "failure_timeout", "nats"}
_WIPPY_ONLY = {"membership", "internode", "raft", "failure_domain"}
_NATS_KEYS = {"address", "namespace", "credentials", "user", "password", "token", "tls"}
_TLS_KEYS = {"ca", "cert", "key"}
_NAME = re.compile(r"[^A-Za-z0-9_-]+")


@dataclass(frozen=True)
class ClusterSettings:
    """The checked ``cluster`` settings of one run."""

    enabled: bool = False
    name: str = ""
    address: str | list[str] | None = None
    namespace: str = "actorflow"
    heartbeat_interval: float = 0.5
    failure_timeout: float = 3.0
    connect: dict[str, Any] = field(default_factory=dict)
    """What goes to ``nats.connect`` (credentials, TLS)."""

    @property
    def embedded(self) -> bool:
        return self.address is None


def parse_set(items: list[str]) -> dict[str, Any]:
    """``--set cluster.a.b=value`` items as a nested ``cluster`` dict; ``INVALID`` for anything else."""
    settings: dict[str, Any] = {}
    for item in items:
        key, sep, text = item.partition("=")
        path = key.strip().split(".")
        if not sep or len(path) < 2 or not all(path):
            raise errors.Error(errors.INVALID, f"--set {item!r}: expected SECTION.KEY=VALUE")
        if path[0] != "cluster":
            raise errors.Error(
                errors.INVALID, f"--set {key}: actorflow reads only the cluster section (cluster.KEY=VALUE)"
            )
        try:  # read within the loader's limits: a few hundred bytes of aliases fill no memory
            value = bounded_yaml.plain(bounded_yaml.parse(text)) if text.strip() else ""
        except yaml.YAMLError:
            value = text
        except bounded_yaml.TooLarge as exc:
            raise errors.Error(errors.INVALID, f"--set {key}: YAML line {exc.line}: {exc}") from None
        target = settings
        for part in path[1:-1]:
            nested = target.setdefault(part, {})
            if not isinstance(nested, dict):
                raise errors.Error(errors.INVALID, f"--set {key}: {part} is not a section")
            target = nested
        target[path[-1]] = value
    return settings


def cluster_settings(root: Path, overrides: dict[str, Any] | None = None) -> ClusterSettings:
    """The cluster settings of the app at ``root``: its config file's, then ``overrides``."""
    merged: dict[str, Any] = {}
    settings = ClusterSettings()
    config = root / CONFIG_FILE
    if config.is_file():
        merged, where = _file_section(config)
        settings = _check(merged, where)  # the file's own mistakes, with its line
    if overrides:
        settings = _check(_merge(merged, overrides), "the command line (--node, --set)")
    return settings


def _file_section(path: Path) -> tuple[dict[str, Any], str]:
    try:
        if path.stat().st_size > bounded_yaml.MAX_YAML_BYTES:
            raise errors.Error(errors.INVALID, f"{path}: larger than {bounded_yaml.MAX_YAML_BYTES} bytes")
        text = path.read_text(encoding="utf-8")
        document = bounded_yaml.plain(bounded_yaml.parse(text))
    except bounded_yaml.TooLarge as exc:
        raise errors.Error(errors.INVALID, f"{path}:{exc.line}: {exc}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 1
        raise errors.Error(errors.INVALID, f"{path}:{line}: invalid YAML: {exc}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise errors.Error(errors.INVALID, f"{path}: cannot read: {exc}") from None
    section = document.get("cluster") if isinstance(document, dict) else None
    if section is None:
        return {}, str(path)
    line = _line_of(text, "cluster")
    where = f"{path}:{line}"
    if not isinstance(section, dict):
        raise errors.Error(errors.INVALID, f"{where}: cluster must be a mapping of settings")
    return section, where


def _line_of(text: str, key: str) -> int:
    for number, line in enumerate(text.splitlines(), 1):
        if line.startswith(f"{key}:"):
            return number
    return 1


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _check(section: dict[str, Any], where: str) -> ClusterSettings:
    def bad(message: str) -> errors.Error:
        return errors.Error(errors.INVALID, f"{where}: cluster.{message}")

    unknown = set(section) - _KEYS - _WIPPY_ONLY
    if unknown:
        raise bad(f"{sorted(unknown)[0]}: unknown setting (known: {', '.join(sorted(_KEYS))})")
    enabled = section.get("enabled", False)
    if not isinstance(enabled, bool):
        raise bad(f"enabled must be true or false, got {enabled!r}")
    name = section.get("name")
    if name is None or name == "":
        name = _NAME.sub("-", socket.gethostname()).strip("-")[:64] or "node"
    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", name) or name == "local":
        raise bad(f"name {name!r}: 1-64 letters, digits, '-' or '_' (and not 'local')")
    timings = {}
    for key, default in (("heartbeat_interval", 0.5), ("failure_timeout", 3.0)):
        value = section.get(key)
        try:
            timings[key] = default if value is None else duration_seconds(value, number_unit=1.0, what=key)
        except errors.Error as err:
            raise bad(f"{key}: {err.message()}") from None
        if timings[key] <= 0:
            raise bad(f"{key} must be positive")
    nats = section.get("nats") or {}
    if not isinstance(nats, dict):
        raise bad("nats must be a mapping")
    unknown = set(nats) - _NATS_KEYS
    if unknown:
        raise bad(f"nats.{sorted(unknown)[0]}: unknown setting (known: {', '.join(sorted(_NATS_KEYS))})")
    address = nats.get("address")
    if isinstance(address, str) and "," in address:
        address = [part.strip() for part in address.split(",") if part.strip()]
    if address is not None and not (
        (isinstance(address, str) and address)
        or (isinstance(address, list) and address and all(isinstance(a, str) and a for a in address))
    ):
        raise bad(f"nats.address must be a NATS URL or a list of them, got {address!r}")
    namespace = nats.get("namespace", "actorflow")
    if not isinstance(namespace, str) or not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", namespace):
        raise bad(f"nats.namespace {namespace!r}: 1-64 letters, digits, '-' or '_'")
    connect: dict[str, Any] = {}
    for key, option in (("credentials", "user_credentials"), ("user", "user"), ("password", "password")):
        value = nats.get(key)
        if value is not None:
            if not isinstance(value, str) or not value:
                raise bad(f"nats.{key} must be a non-empty string")
            connect[option] = value
    token = nats.get("token")
    if token is not None:
        if not isinstance(token, str) or not token:
            raise bad("nats.token must be a non-empty string")
        connect["token"] = token
    tls = nats.get("tls")
    if tls is not None:
        connect["tls"] = _tls_context(tls, bad)
    return ClusterSettings(
        enabled=enabled,
        name=name,
        address=address,
        namespace=namespace,
        heartbeat_interval=timings["heartbeat_interval"],
        failure_timeout=timings["failure_timeout"],
        connect=connect,
    )


def _tls_context(tls: Any, bad: Any) -> ssl.SSLContext:
    if not isinstance(tls, dict) or set(tls) - _TLS_KEYS:
        raise bad("nats.tls must be a mapping of ca, cert and key (file paths)")
    try:
        context = ssl.create_default_context(cafile=tls.get("ca"))
        if tls.get("cert"):
            context.load_cert_chain(tls["cert"], tls.get("key"))
    except (OSError, ssl.SSLError) as exc:
        raise bad(f"nats.tls: {exc}") from None
    return context


def node_dir(state_dir: Path, name: str) -> Path:
    """Where node ``name`` of an app whose state directory is ``state_dir`` keeps its own state."""
    return state_dir / "nodes" / name


class ClusterUnit:
    """Joins the cluster once the hosts are up, before anything else runs; leaves last.

    Stopping shuts the node down first (its processes' exits reach the other
    nodes, its names and locks are released as they end), then leaves.
    """

    def __init__(self, app: App, settings: ClusterSettings, state_dir: Path) -> None:
        self.app = app
        self.settings = settings
        self.state_dir = state_dir
        self.id = f"cluster:{settings.name}"
        self.provides = frozenset({CLUSTER_UNIT})
        hosts = app.registry.of_kind("process.host")
        self.requires = frozenset(entry.id for entry in hosts) or frozenset({app.default_host_id})
        self.lifecycle = Lifecycle(start_timeout=30.0, stop_timeout=15.0)
        self.cluster: Any = None

    def start(self) -> None:
        from cluster import Cluster

        settings = self.settings
        self.cluster = Cluster(
            self.app.require_node(),
            settings.name,
            address=settings.address,
            state_dir=self.state_dir / "nats" if settings.embedded else None,
            cluster=settings.namespace,
            heartbeat_interval=settings.heartbeat_interval,
            failure_timeout=settings.failure_timeout,
            connect=settings.connect,
        ).start()
        self.app.cluster = self.cluster
        self.app.progress(
            f"joined cluster {settings.namespace} as node {settings.name}: {self.describe()['detail']}"
        )

    def stop(self, timeout: float) -> None:
        cluster = self.cluster
        if cluster is None:
            return
        node = self.app.node
        if node is not None:
            node.shutdown(max(1.0, timeout - 5.0))
        cluster.stop()

    def describe(self) -> dict[str, Any]:
        cluster = self.cluster
        members = cluster.member_names() if cluster is not None else []
        where = "embedded NATS" if self.settings.embedded else "NATS"
        address = (
            cluster.server.address
            if cluster is not None and cluster.server is not None
            else self.settings.address
        )
        return {
            "node": self.settings.name,
            "namespace": self.settings.namespace,
            "members": members,
            "address": address,
            "embedded": self.settings.embedded,
            "detail": f"nodes {', '.join(members)}; {where} {address}",
        }
