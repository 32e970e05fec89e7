"""A node's name and the cluster's place behind the Host seam (no NATS needed).

A node that joins a cluster mints its PIDs with its name (``Node.set_pid_node``)
and still treats them as its own: sends, names, spawns on ``name@host`` and
introspection stay local.  The other nodes are ``Host`` subclasses that
declare what they do and inherit the rest, and the package uses only the
public modules of ``actors``.
"""

from __future__ import annotations

import ast
import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from actors import PID, Host, Node, Probe, errors
from cluster import RemoteHost, RemotePeer

ROOT = Path(__file__).resolve().parents[1]


async def _echo(proc: Any) -> None:
    """Answer one message: its topic, back to the PID it carries."""
    message, _ok = await proc.inbox().receive()
    proc.send(message.payload, "echo", message.topic)


@contextlib.contextmanager
def _node() -> Iterator[tuple[Node, Callable[[], Probe]]]:
    """A fresh node and a maker of probes on it, closed before the node shuts down."""
    node = Node(workers=2)
    made: list[Probe] = []

    def new_probe() -> Probe:
        made.append(Probe(node))
        return made[-1]

    try:
        yield node, new_probe
    finally:
        for probe in made:
            probe.close()
        node.shutdown(timeout=0.5)


def test_a_named_node_mints_pids_with_its_name_and_routes_them_to_itself() -> None:
    with _node() as (node, new_probe):
        node.set_pid_node("n1", first_uniq=0x100)
        assert node.pid_node == "n1"
        probe = new_probe()
        assert str(probe.pid) == "{n1@app:processes|0x00100}"
        pid = probe.spawn(_echo, monitor=True)
        assert str(pid) == "{n1@app:processes|0x00101}"
        assert node.is_own(pid) and node.is_alive(pid) and node.process(pid) is not None
        assert node.in_memory(pid)
        node.send(pid, "ping", probe.pid)  # routed to this node's host, not to a peer
        probe.expect_message("echo", "ping", sender=pid)
        assert probe.expect_exit(pid).error is None


def test_a_named_node_spawns_on_its_own_hosts_by_their_node_qualified_id() -> None:
    with _node() as (node, new_probe):
        node.set_pid_node("n1")
        probe = new_probe()
        pid = probe.spawn(_echo, host="n1@app:processes", monitor=True)
        assert pid.node == "n1" and pid.host == "app:processes"
        assert node.in_memory(host_id="n1@app:processes")
        probe.send(pid, "hello", probe.pid)
        probe.expect_message("echo", "hello", sender=pid)
        assert probe.expect_exit(pid).error is None
        with pytest.raises(errors.Error) as missing:
            node.spawn(_echo, host="n2@app:processes")
        assert missing.value.kind() == errors.NOT_FOUND


def test_names_of_a_named_node_take_its_pids_and_refuse_its_dead_ones() -> None:
    with _node() as (node, new_probe):
        node.set_pid_node("n1")
        probe = new_probe()
        assert node.register("watcher", probe.pid) is True
        assert node.whereis("watcher") == probe.pid
        node.send("watcher", "by-name", 1)
        probe.expect_message("by-name", 1)
        gone = PID("app:processes", "0x0ffff", "n1")  # ours, never spawned
        with pytest.raises(errors.Error) as dead:
            node.register("ghost", gone)
        assert dead.value.kind() == errors.NOT_FOUND
        with pytest.raises(errors.Error) as unknown:
            node.send(gone, "x", 1)
        assert unknown.value.kind() == errors.NOT_FOUND


def test_a_pid_of_another_node_without_a_peer_is_not_found_not_delivered_here() -> None:
    with _node() as (node, new_probe):
        node.set_pid_node("n1")
        probe = new_probe()
        twin = PID(probe.pid.host, probe.pid.uniq, "n2")  # same host and ID, another node
        with pytest.raises(errors.Error) as missing:
            node.send(twin, "x", 1)
        assert missing.value.kind() == errors.NOT_FOUND
        assert not node.is_alive(twin) and node.process(twin) is None
        probe.expect_nothing()


def test_a_node_is_named_before_it_runs_processes() -> None:
    with _node() as (node, new_probe):
        new_probe()
        with pytest.raises(errors.Error) as late:
            node.set_pid_node("n1")
        assert late.value.kind() == errors.INVALID
        assert node.pid_node == ""
    with _node() as (node, new_probe):
        node.set_pid_node("local")  # the default node's name: PIDs carry no node part
        assert str(new_probe().pid) == "{app:processes|0x00001}"
        with pytest.raises(errors.Error) as empty:
            node.set_pid_node("")
        assert empty.value.kind() == errors.INVALID


def test_other_nodes_are_hosts_that_declare_only_what_they_do() -> None:
    contract = {"spawn", "deliver", "deliver_if_alive", "is_alive", "watch", "wait", "process", "count"}
    contract |= {"start", "stop"}
    assert issubclass(RemotePeer, Host) and issubclass(RemoteHost, Host)
    assert not RemotePeer.__abstractmethods__ and not RemoteHost.__abstractmethods__
    # A peer spawns nothing (the base refuses) and inherits wait and deliver_if_alive.
    assert contract & set(vars(RemotePeer)) == {"deliver", "is_alive", "watch"}
    assert contract & set(vars(RemoteHost)) == {"spawn", "deliver", "is_alive", "watch"}
    assert RemotePeer.in_memory and not RemotePeer.names_are_local
    assert not RemoteHost.in_memory and not RemoteHost.names_are_local


def test_the_cluster_package_uses_only_public_modules_of_actors() -> None:
    offenders = []
    for path in sorted((ROOT / "cluster").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            modules = []
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                modules = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
            offenders += [
                f"{path.relative_to(ROOT)}: {name}"
                for name in modules
                if name.startswith("actors.") and any(part.startswith("_") for part in name.split("."))
            ]
    assert offenders == []
