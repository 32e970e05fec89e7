"""An app as a cluster node, in this process: its settings, and names that wait for NATS.

The settings come from the project's ``.wippy.yaml`` and the command line
(``--set``, ``--node``); a bad one is ``INVALID`` naming the file and line
or the flag.  A consistent name is a round trip to NATS: the Lua process
registering it waits without holding its worker, so the other processes of
a one-worker host go on even while NATS does not answer.
"""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path
from typing import Any

import pytest

import wippy_compat
from actorflow._cluster import cluster_settings, parse_set
from actorflow.app import App
from actors import Probe, errors

from .cluster_support import wait_for
from .lua_support import write_app


def test_settings_come_from_the_project_file_then_the_command_line(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / ".wippy.yaml").write_text(
        "logger:\n  encoding: json\n"
        "cluster:\n  enabled: true\n  name: node-1\n  failure_timeout: 4s\n"
        "  membership:\n    join_addrs: 'x:7946'\n"  # Wippy's own transport: accepted, unused
        "  nats:\n    address: nats://n1:4222, nats://n2:4222\n    token: s3cret\n"
    )
    settings = cluster_settings(tmp_path)
    assert (settings.enabled, settings.name, settings.failure_timeout) == (True, "node-1", 4.0)
    assert settings.address == ["nats://n1:4222", "nats://n2:4222"]
    assert settings.connect == {"token": "s3cret"} and not settings.embedded
    overrides = parse_set(
        ["cluster.name=node-2", "cluster.heartbeat_interval=250ms", "cluster.nats.namespace=b"]
    )
    settings = cluster_settings(tmp_path, overrides)
    assert (settings.name, settings.heartbeat_interval, settings.namespace) == ("node-2", 0.25, "b")
    assert settings.address == ["nats://n1:4222", "nats://n2:4222"]  # the file's, kept
    assert cluster_settings(tmp_path / "src").enabled is False  # no project file: not a cluster


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("cluster:\n  enabled: yes please\n", ".wippy.yaml:1: cluster.enabled must be true or false"),
        ("x: 1\ncluster:\n  name: 'no spaces'\n", ".wippy.yaml:2: cluster.name 'no spaces'"),
        ("cluster:\n  gossip: true\n", "cluster.gossip: unknown setting"),
        ("cluster:\n  failure_timeout: soon\n", "cluster.failure_timeout: invalid duration"),
        ("cluster:\n  nats:\n    address: 7\n", "cluster.nats.address must be a NATS URL"),
        ("cluster:\n  nats:\n    tls: {ca: /nonexistent.pem}\n", "cluster.nats.tls:"),
        ("cluster: [1]\n", "cluster must be a mapping"),
        ("cluster:\n  name: [\n", ".wippy.yaml:3: invalid YAML"),
    ],
)
def test_a_bad_setting_is_invalid_with_its_file_and_line(tmp_path: Path, text: str, fragment: str) -> None:
    (tmp_path / ".wippy.yaml").write_text(text)
    with pytest.raises(errors.Error) as bad:
        cluster_settings(tmp_path)
    assert bad.value.kind() == errors.INVALID and fragment in bad.value.message(), bad.value.message()


def test_a_bad_setting_on_the_command_line_says_so(tmp_path: Path) -> None:
    (tmp_path / ".wippy.yaml").write_text("cluster:\n  enabled: true\n")
    with pytest.raises(errors.Error) as bad:
        cluster_settings(tmp_path, parse_set(["cluster.name=no spaces"]))
    assert bad.value.message().startswith("the command line (--node, --set): cluster.name 'no spaces'")


@pytest.mark.parametrize("item", ["cluster.name", "logger.encoding=json", "cluster=1", "cluster..x=1"])
def test_a_bad_set_flag_is_invalid(item: str) -> None:
    with pytest.raises(errors.Error) as bad:
        parse_set([item])
    assert bad.value.kind() == errors.INVALID and "--set" in bad.value.message()


REGISTRAR = """
return function()
  process.send("test", "registering")
  local ok, err = process.registry.register("billing", nil, process.registry.CONSISTENT)
  local again = process.registry.register("billing", nil, process.registry.CONSISTENT)
  local strong = process.registry.register("leader", nil, process.registry.STRONG)
  local eventual = process.registry.register("presence", nil, process.registry.EVENTUAL)
  process.send("test", "registered", {ok = ok, err = err and err:kind(), again = again, strong = strong,
                                       eventual = eventual})
  local removed = process.registry.unregister("billing", process.registry.CONSISTENT)
  local twice = process.registry.unregister("billing", process.registry.CONSISTENT)
  local wrong_scope = process.registry.unregister("leader", process.registry.LOCAL)
  return {removed, twice, wrong_scope}
end
"""

PONG = """
return function()
  local inbox = process.inbox()
  while true do
    local msg = inbox:receive()
    process.send(msg:from(), "pong", msg:payload():data())
  end
end
"""


def test_a_consistent_name_waits_for_nats_without_holding_the_worker(tmp_path: Path) -> None:
    entries = [
        {"name": "processes", "kind": "process.host", "host": {"workers": 1}},
        {"name": "registrar", "kind": "process.lua", "source": "file://registrar.lua"},
        {"name": "pong", "kind": "process.lua", "source": "file://pong.lua"},
    ]
    write_app(tmp_path / "app", entries, {"registrar.lua": REGISTRAR, "pong.lua": PONG})
    app = App(
        tmp_path / "app",
        state_dir=tmp_path / "state",
        extensions=[wippy_compat.install],
        cluster={"enabled": True, "name": "solo"},
    )
    with app:
        assert app.state_dir == tmp_path / "state" / "nodes" / "solo"
        node = app.require_node()
        got: list[Any] = []
        with Probe(node) as probe:
            node.register("test", probe.pid)
            pong = app.spawn("app:pong")
            server = json.loads((tmp_path / "state" / "nats" / "server.json").read_text())["pid"]
            os.kill(server, signal.SIGSTOP)  # NATS stops answering
            try:
                done: list[Any] = []
                app.start_entry("app:registrar", (), None, lambda value, error: done.append((value, error)))
                assert probe.receive(timeout=5).topic == "registering"
                # The one worker still runs the other process while the registrar waits.
                probe.send(pong, "ping", 1)
                reply = probe.receive(timeout=5)
                assert (reply.topic, reply.payload) == ("pong", 1)
                assert done == []
            finally:
                os.kill(server, signal.SIGCONT)
            registered = probe.receive(timeout=15)
            assert registered.topic == "registered"
            assert registered.payload == {"ok": True, "again": True, "strong": True, "eventual": True}
            got = wait_for(lambda: done, timeout=10, what="the registrar's end")
            probe.terminate(pong)
    assert got == [([True, False, False], None)]
