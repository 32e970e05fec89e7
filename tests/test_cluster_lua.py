"""Three nodes of one Lua app, each an ``actorflow run APP --node NAME``, as a user starts them.

The app (``tests/apps/cluster``) runs an *agent* service on every node: a
Lua process that does what the test asks over the node's control socket (as
``actorflow send`` does) and records what it receives.  Lua processes of one
node send to, link to and monitor Lua processes of another; register names
in the cluster's scopes; join a ``pg`` group and broadcast; take a
``system.lock``.  The last test SIGKILLs a node.
"""

from __future__ import annotations

import json
import os
import re
import signal
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from actorflow._cluster import node_dir
from actorflow.cli import main as actorflow_main
from actorflow.control import request
from actors import errors
from cluster import stop_left_behind
from tests.cli_support import ROOT, RunningApp
from tests.cluster_support import NodeError, wait_for

APP = ROOT / "tests" / "apps" / "cluster"
FAILURE_TIMEOUT = 2.0
SETTINGS = (
    "--set",
    "cluster.heartbeat_interval=250ms",
    "--set",
    f"cluster.failure_timeout={FAILURE_TIMEOUT}s",
)


class LuaNode:
    """One ``actorflow run --node NAME`` and its agent."""

    def __init__(self, name: str, state_dir: Path, *settings: str) -> None:
        self.name = name
        self.state_dir = state_dir
        self.run = RunningApp(APP, state_dir, "--node", name, *(settings or SETTINGS))
        try:
            self.agent = wait_for(self._agent, what=f"the agent of {name}")
        except BaseException:
            self.run.kill()  # the fixture only stops the nodes that started
            raise

    def _agent(self) -> str | None:
        try:
            return str(self.do("node")["pid"])
        except errors.Error as err:  # the service has not registered its name yet
            assert err.kind() == errors.NOT_FOUND, err
            return None

    def do(self, op: str, **args: Any) -> Any:
        """Have the agent perform ``op``; its value, or :class:`NodeError` with its error."""
        result = request(
            node_dir(self.state_dir, self.name),
            "send",
            to="agent",
            topic="do",
            payloads=[{"op": op, **args}],
            wait=15.0,
            replies=1,
        )
        assert result["replies"], f"node {self.name}: no answer to {op}"
        answer = result["replies"][0]["payload"]
        if answer.get("error"):
            raise NodeError(answer["error"])
        return answer.get("value")

    def records(self, kind: str, **match: Any) -> list[dict[str, Any]]:
        return [
            r
            for r in self.do("records") or []
            if r["type"] == kind and all(r.get(key) == value for key, value in match.items())
        ]


@pytest.fixture(scope="module")
def state_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    path = tmp_path_factory.mktemp("cluster-lua")
    yield path
    stop_left_behind(path / "nats")  # the nodes the tests killed could not stop it


@pytest.fixture(scope="module")
def nodes(state_dir: Path) -> Iterator[dict[str, LuaNode]]:
    with ThreadPoolExecutor(3) as pool:
        futures = {name: pool.submit(LuaNode, name, state_dir) for name in ("a", "b", "c")}
    started = {name: future.result() for name, future in futures.items() if future.exception() is None}
    try:
        for future in futures.values():
            if future.exception() is not None:
                raise future.exception()  # type: ignore[misc]
        for node in started.values():
            wait_for(
                lambda node=node: (
                    node.do("node")["members"] == [node.name, *sorted({"a", "b", "c"} - {node.name})]
                ),
                what=f"{node.name} to see every node",
            )
        yield started
    finally:
        with ThreadPoolExecutor(3) as pool:
            list(pool.map(_stop, started.values()))


def _stop(node: LuaNode) -> None:
    if node.run.process.poll() is None:
        status, _took = node.run.interrupt(timeout=30)
        assert status == 0, node.run.output()


def test_each_node_runs_the_app_under_its_name(nodes: dict[str, LuaNode], state_dir: Path) -> None:
    a = nodes["a"]
    assert a.agent.startswith("{a@app:processes|")
    assert re.search(r"^\s+node\s+a of cluster actorflow$", a.run.summary, re.MULTILINE), a.run.summary
    server = json.loads((state_dir / "nats" / "server.json").read_text())
    for name, node in nodes.items():
        info = node.do("node")
        assert (info["id"], info["addr"]) == (name, f"127.0.0.1:{server['port']}")
        assert (node_dir(state_dir, name) / "control.sock").exists()
    assert (state_dir / "nats" / "server.json").exists()  # one embedded server for the three


def test_a_lua_process_sends_to_links_to_and_monitors_one_on_another_node(nodes: dict[str, LuaNode]) -> None:
    a, b = nodes["a"], nodes["b"]
    target = b.do("spawn", entry="target")
    assert target.startswith("{b@app:processes|")
    assert a.do("link", dest=target) is True
    assert a.do("monitor", dest=target) is True
    assert a.do("send", dest=target, topic="ping", payload={"n": 1, "s": "é"}) is True
    (pong,) = wait_for(lambda: a.records("msg", topic="pong"), what="the pong from b")
    assert pong["from"] == target and pong["payload"] == {"n": 1, "s": "é"}
    a.do("send", dest=target, topic="fail")
    down = wait_for(lambda: a.records("pid.link.down", **{"from": target}), what="LINK_DOWN")
    exit_ = wait_for(lambda: a.records("pid.exit", **{"from": target}), what="EXIT")
    assert down[0]["error"] == {"kind": "INTERNAL", "message": "failed on request"}
    assert exit_[0]["error"]["message"] == "failed on request"
    # A process of a started on b's host by a Lua spawn is b's.
    remote = a.do("spawn", entry="target", host="b@app:processes")
    assert remote.startswith("{b@app:processes|")


def test_lua_terminate_exec_and_cancel_reach_a_process_on_another_node(nodes: dict[str, LuaNode]) -> None:
    a, b = nodes["a"], nodes["b"]
    victim, polite = b.do("spawn", entry="target"), b.do("spawn", entry="target")
    stubborn = b.do("spawn", entry="target", arg="stubborn")
    for pid in (victim, polite, stubborn):
        assert a.do("monitor", dest=pid) is True
    # terminate: the target stops at once with "process terminated".
    assert a.do("terminate", dest=victim) is True
    (ended,) = wait_for(lambda: a.records("pid.exit", **{"from": victim}), what="the terminated EXIT")
    assert ended["error"] == {"kind": "INTERNAL", "message": "process terminated"}
    # cancel with a reason: a CANCEL event; this target ends with the reason as its result.
    assert a.do("cancel", dest=polite, arg="please stop") is True
    (ended,) = wait_for(lambda: a.records("pid.exit", **{"from": polite}), what="the cancelled EXIT")
    assert (ended["value"], ended.get("error")) == ("please stop", None)
    # cancel with a deadline: the event carries it, and the target is terminated when it passes.
    sent = time.time()
    assert a.do("cancel", dest=stubborn, arg="500ms") is True
    (told,) = wait_for(lambda: a.records("msg", topic="canceled"), what="the stubborn one's report")
    assert (told["from"], told["payload"]) == (stubborn, {"reason": "", "deadline": 0.5})
    (ended,) = wait_for(lambda: a.records("pid.exit", **{"from": stubborn}), what="the deadline")
    assert ended["error"] == {"kind": "INTERNAL", "message": "process terminated"}
    assert ended["at"] - sent >= 0.5
    # exec on a host of another node: it runs there and its result (or error) comes back.
    assert a.do("exec", entry="sum", host="b@app:processes", arg=[1, 2, 3]) == {"sum": 6, "node": "b"}
    with pytest.raises(NodeError) as failed:
        a.do("exec", entry="sum", host="b@app:processes", arg=[1, "x"])
    assert failed.value.kind == "INTERNAL"
    assert failed.value.message == "sum.lua:5: attempt to add a 'number' with a 'string'"


def test_lua_unlink_and_unmonitor_across_nodes_leave_no_event(nodes: dict[str, LuaNode]) -> None:
    a, b = nodes["a"], nodes["b"]
    unlinked, unmonitored, last = (b.do("spawn", entry="target") for _ in range(3))
    for op, dest in (
        ("link", unlinked),
        ("monitor", unlinked),
        ("unlink", unlinked),
        ("link", unmonitored),
        ("monitor", unmonitored),
        ("unmonitor", unmonitored),
        ("monitor", last),
    ):
        assert a.do(op, dest=dest) is True
    # One after the other: each failure's events reach the agent before the next one's.
    a.do("send", dest=unlinked, topic="fail")
    wait_for(lambda: a.records("pid.exit", **{"from": unlinked}), what="the unlinked one's EXIT")
    a.do("send", dest=unmonitored, topic="fail")
    wait_for(lambda: a.records("pid.link.down", **{"from": unmonitored}), what="the LINK_DOWN")
    a.do("send", dest=last, topic="fail")
    wait_for(lambda: a.records("pid.exit", **{"from": last}), what="the last EXIT")
    seen = [(r["type"], r["from"]) for r in a.do("records") if r["from"] in (unlinked, unmonitored, last)]
    assert seen == [("pid.exit", unlinked), ("pid.link.down", unmonitored), ("pid.exit", last)]


def test_a_cluster_name_shadows_a_local_one_consistent_first_then_eventual(nodes: dict[str, LuaNode]) -> None:
    a, b, c = nodes["a"], nodes["b"], nodes["c"]
    helper = a.do("spawn", entry="target")
    assert a.do("register", name="svc", pid=helper) is True  # LOCAL, on a only
    assert a.do("lookup", name="svc") == helper
    assert c.do("register", name="svc", scope="EVENTUAL") is True
    wait_for(lambda: a.do("lookup", name="svc") == c.agent, what="the eventual name to shadow the local")
    assert b.do("register", name="svc", scope="CONSISTENT") is True
    wait_for(lambda: a.do("lookup", name="svc") == b.agent, what="the consistent name to shadow both")
    assert c.do("lookup", name="svc") == b.agent  # on c too, over its own eventual name
    a.do("send", dest="svc", topic="by-name", payload=1)  # a send resolves the same way
    (message,) = wait_for(lambda: b.records("msg", topic="by-name"), what="the message sent by name")
    assert message["from"] == a.agent
    # Released, each plane lets the next one show through.
    assert b.do("unregister", name="svc", scope="CONSISTENT") is True
    wait_for(lambda: a.do("lookup", name="svc") == c.agent, what="the eventual name again")
    assert c.do("unregister", name="svc", scope="EVENTUAL") is True
    wait_for(lambda: a.do("lookup", name="svc") == helper, what="the local name again")
    a.do("send", dest="svc", topic="ping", payload="local")
    wait_for(lambda: a.records("msg", topic="pong", payload="local"), what="the local holder's pong")
    assert a.do("terminate", dest=helper) is True


def test_names_in_each_scope_resolve_as_wippy_says(
    nodes: dict[str, LuaNode], state_dir: Path, capsys: Any
) -> None:
    a, b, c = nodes["a"], nodes["b"], nodes["c"]
    assert a.do("register", name="billing", scope="CONSISTENT") is True
    assert a.do("register", name="billing", scope="CONSISTENT") is True  # the same PID again
    with pytest.raises(NodeError) as taken:
        b.do("register", name="billing", scope="CONSISTENT")
    assert taken.value.kind == "ALREADY_EXISTS"
    assert wait_for(lambda: c.do("lookup", name="billing") == a.agent, what="c to resolve billing")
    c.do("send", dest="billing", topic="invoice", payload=7)
    (invoice,) = wait_for(lambda: a.records("msg", topic="invoice"), what="the message sent by name")
    assert (invoice["payload"], invoice["from"]) == (7, c.agent)
    # STRONG returns once every live node resolves it: no waiting on the other side.
    assert b.do("register", name="leader", scope="STRONG") is True
    assert c.do("lookup", name="leader") == b.agent
    assert a.do("lookup", name="leader") == b.agent
    # LOCAL (the default) stays on its node; only the holder unregisters a cluster name.
    assert c.do("register", name="helper") is True
    with pytest.raises(NodeError) as local_only:
        a.do("lookup", name="helper")
    assert local_only.value.kind == "NOT_FOUND"
    assert c.do("unregister", name="billing", scope="CONSISTENT") is False
    # actorflow ps shows the node and the names with their scopes.
    assert actorflow_main(["ps", str(APP), "--state-dir", str(state_dir), "--node", "b", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    (agent_row,) = [row for row in rows if row["pid"] == b.agent]
    assert agent_row["node"] == "b"
    assert agent_row["names"] == ["agent", "leader (strong)"]
    assert actorflow_main(["ps", str(APP), "--state-dir", str(state_dir)]) == 1  # which node?
    assert "give --node NAME" in capsys.readouterr().err
    assert a.do("unregister", name="billing", scope="CONSISTENT") is True
    wait_for(lambda: _not_found(c, "billing"), what="billing to be gone everywhere")


def _not_found(node: LuaNode, name: str) -> bool:
    try:
        node.do("lookup", name=name)
    except NodeError as err:
        return err.kind == "NOT_FOUND"
    return False


def test_a_pg_group_spans_the_nodes_and_a_broadcast_reaches_every_member(nodes: dict[str, LuaNode]) -> None:
    for node in nodes.values():
        assert node.do("join", group="workers") is True
    agents = sorted(node.agent for node in nodes.values())
    for node in nodes.values():
        wait_for(lambda node=node: sorted(node.do("members", group="workers")) == agents, what="membership")
    a = nodes["a"]
    assert a.do("broadcast", group="workers", topic="job", payload={"id": 42}) is True
    for node in nodes.values():
        (job,) = wait_for(lambda node=node: node.records("msg", topic="job"), what=f"the job on {node.name}")
        assert (job["payload"], job["from"]) == ({"id": 42}, a.agent)


def test_a_lock_has_one_holder_cluster_wide_until_the_holder_dies(nodes: dict[str, LuaNode]) -> None:
    a, b = nodes["a"], nodes["b"]
    holder = a.do("spawn", entry="holder", arg="migration")
    wait_for(lambda: a.records("msg", topic="locked", payload="migration"), what="the holder to lock")
    with pytest.raises(NodeError) as held:
        b.do("lock", name="migration")
    assert held.value.kind == "ALREADY_EXISTS"
    assert b.do("unlock", name="migration") is False  # not the holder: nothing happens
    a.do("terminate", dest=holder)
    assert wait_for(lambda: _locks(b, "migration"), what="the lock to be free after its holder")
    assert b.do("unlock", name="migration") is True
    assert b.do("unlock", name="migration") is False


def _locks(node: LuaNode, name: str) -> bool:
    try:
        return bool(node.do("lock", name=name))
    except NodeError as err:
        assert err.kind == "ALREADY_EXISTS"
        return False


def test_sigkill_of_a_node_is_link_down_and_exit_for_lua_watchers_and_frees_names_and_locks(
    nodes: dict[str, LuaNode],
) -> None:
    a, b, c = nodes["a"], nodes["b"], nodes["c"]
    doomed = a.do("spawn", entry="target")
    assert b.do("link", dest=doomed) is True
    assert c.do("monitor", dest=doomed) is True
    a.do("spawn", entry="holder", arg="a-lock")
    wait_for(lambda: a.records("msg", topic="locked", payload="a-lock"), what="a's holder to lock")
    assert a.do("register", name="a-service", scope="CONSISTENT") is True
    # The link and monitor are in place on a once a process of b and c got an answer from it.
    b.do("send", dest=doomed, topic="ping", payload="b")
    c.do("send", dest=doomed, topic="ping", payload="c")
    wait_for(lambda: b.records("msg", topic="pong", payload="b"), what="b's pong")
    wait_for(lambda: c.records("msg", topic="pong", payload="c"), what="c's pong")

    killed_at = time.time()
    a.run.process.kill()
    a.run.process.wait(10)
    (down,) = wait_for(
        lambda: b.records("pid.link.down", **{"from": doomed}), timeout=FAILURE_TIMEOUT + 5, what="LINK_DOWN"
    )
    (exit_,) = wait_for(lambda: c.records("pid.exit", **{"from": doomed}), timeout=5, what="EXIT")
    assert down["error"]["kind"] == "NODE_DOWN" and exit_["error"]["kind"] == "NODE_DOWN"
    last = max(down["at"], exit_["at"])
    assert last - killed_at <= FAILURE_TIMEOUT + 0.5, f"node-down took {last - killed_at:.2f} s"
    # The dead node's lock and names are free.
    assert c.do("lock", name="a-lock") is True
    assert c.do("register", name="a-service", scope="CONSISTENT") is True
    assert sorted(b.do("node")["members"]) == ["b", "c"]


def test_a_lua_node_cut_off_is_declared_down_and_stops_when_it_resumes(nodes: dict[str, LuaNode]) -> None:
    # After the SIGKILL above only b and c are left; c is stopped (SIGSTOP), then resumed.
    b, c = nodes["b"], nodes["c"]
    doomed = c.do("spawn", entry="target")
    assert b.do("link", dest=doomed) is True
    assert b.do("monitor", dest=doomed) is True
    assert c.do("register", name="c-service", scope="CONSISTENT") is True
    b.do("send", dest=doomed, topic="ping", payload="cut")
    wait_for(lambda: b.records("msg", topic="pong", payload="cut"), what="the pong from c")
    process = c.run.process
    stopped_at = time.time()
    os.kill(process.pid, signal.SIGSTOP)
    try:
        (down,) = wait_for(
            lambda: b.records("pid.link.down", **{"from": doomed}),
            timeout=FAILURE_TIMEOUT + 5,
            what="LINK_DOWN",
        )
        (exit_,) = wait_for(lambda: b.records("pid.exit", **{"from": doomed}), timeout=5, what="EXIT")
        assert down["error"]["kind"] == exit_["error"]["kind"] == "NODE_DOWN"
        assert max(down["at"], exit_["at"]) - stopped_at <= FAILURE_TIMEOUT + 0.5
        assert b.do("register", name="c-service", scope="CONSISTENT") is True  # released meanwhile
    finally:
        os.kill(process.pid, signal.SIGCONT)
    # Resumed, c finds it was declared down: it stops, status 1, saying why.
    assert process.wait(30) == 1, c.run.output()
    assert "node c was cut off from the cluster" in c.run.output()
    assert b.do("node")["members"] == ["b"]
    assert b.do("lookup", name="c-service") == b.agent
