"""Three nodes as three OS processes on the embedded NATS server: what crosses and what a death does.

The nodes are ``tests/cluster_node.py`` processes (one module-wide cluster,
started once); their *agents* are real processes that act on request and
record what they receive.  The last tests kill a node with SIGKILL and
restart it.
"""

from __future__ import annotations

import asyncio
import json
import os
import stat
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import nats
import pytest

from actors import codec
from cluster import EmbeddedNats
from tests.cluster_support import FAILURE_TIMEOUT, CuttableLink, NodeError, NodeProc, records_of, wait_for


@pytest.fixture(scope="module")
def state_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    path = tmp_path_factory.mktemp("cluster") / "nats"
    yield path
    # Nodes killed by the tests hold no lock: whoever is left stops the server.
    watcher = EmbeddedNats(path)
    watcher.start()
    watcher.stop()


@pytest.fixture(scope="module")
def nodes(state_dir: Path) -> Iterator[dict[str, NodeProc]]:
    started: dict[str, NodeProc] = {}
    try:
        for name in ("a", "b", "c"):
            started[name] = NodeProc(name, state_dir)
        for node in started.values():
            wait_for(
                lambda node=node: node.call("nodes") == ["a", "b", "c"], what=f"{node.name} to see all nodes"
            )
        yield started
    finally:
        with ThreadPoolExecutor(len(started) or 1) as pool:
            list(pool.map(NodeProc.stop, started.values()))


def msgs(node: NodeProc, agent: str, topic: str | None = None) -> list[dict]:
    return [r for r in records_of(node, agent, "msg") if topic is None or r["topic"] == topic]


_syncs = iter(range(1, 1 << 30))


def settle(src: NodeProc, sender: str, dst: NodeProc, receiver: str) -> None:
    """Wait until everything ``sender`` sent ``receiver`` so far has arrived (per-pair order)."""
    token = next(_syncs)
    src.do(sender, "send", dest=receiver, topic="sync", payloads=[token])
    wait_for(lambda: token in [m["payload"] for m in msgs(dst, receiver, "sync")], what="the sync message")


def test_the_embedded_server_keeps_its_state_private(nodes: dict[str, NodeProc], state_dir: Path) -> None:
    assert stat.S_IMODE(state_dir.stat().st_mode) == 0o700
    files = [p for p in state_dir.rglob("*") if p.is_file()]
    assert files
    for path in files:
        assert stat.S_IMODE(path.stat().st_mode) & 0o077 == 0, path


def test_messages_cross_in_order_with_sender_and_copied_payloads(nodes: dict[str, NodeProc]) -> None:
    a, b = nodes["a"], nodes["b"]
    sender, receiver = a.agent(), b.agent()
    assert receiver.startswith("{b@app:processes|")
    a.do(sender, "send", dest=receiver, topic="data", payloads=[{"nested": [1, {"x": "é"}]}, sender])
    a.do(sender, "send_many", dest=receiver, topic="seq", count=300)
    seq = wait_for(
        lambda: len(msgs(b, receiver, "seq")) == 300 and msgs(b, receiver, "seq"), what="300 messages"
    )
    assert [m["payload"] for m in seq] == list(range(300))
    assert {m["from"] for m in seq} == {sender}
    (data,) = msgs(b, receiver, "data")
    assert data["payload"][0] == {"nested": [1, {"x": "é"}]}
    assert data["payload"][1] == sender  # a PID crosses as a PID


def test_a_send_to_a_name_resolves_cluster_wide_and_first_writer_wins(nodes: dict[str, NodeProc]) -> None:
    a, b, c = nodes["a"], nodes["b"], nodes["c"]
    owner, other, sender = b.agent(), a.agent(), c.agent()
    assert b.do(owner, "register", name="billing") is True
    assert b.do(owner, "register", name="billing") is True  # the same PID again: no-op
    with pytest.raises(NodeError) as taken:
        a.do(other, "register", name="billing")
    assert taken.value.kind == "ALREADY_EXISTS"
    wait_for(lambda: c.call("whereis", name="billing") == owner, what="c to resolve the name")
    c.do(sender, "send", dest="billing", topic="invoice", payloads=[7])
    (message,) = wait_for(lambda: msgs(b, owner, "invoice"), what="the message sent by name")
    assert (message["payload"], message["from"]) == (7, sender)
    # Released when the owner exits: the other node may take it at once.
    b.do(owner, "exit")
    wait_for(lambda: not b.call("alive", pid=owner), what="the owner's exit")
    assert a.do(other, "register", name="billing") is True
    wait_for(lambda: c.call("whereis", name="billing") == other, what="the new owner everywhere")


def test_an_eventual_name_goes_to_the_last_writer_and_the_loser_is_told(nodes: dict[str, NodeProc]) -> None:
    a, b = nodes["a"], nodes["b"]
    first, second = a.agent(), b.agent()
    assert a.do(first, "register", name="presence", scope="eventual") is True
    wait_for(lambda: b.call("whereis", name="presence") == first, what="b to see the first binding")
    assert b.do(second, "register", name="presence", scope="eventual") is True
    wait_for(lambda: a.call("whereis", name="presence") == second, what="a to see the last writer")
    (cancel,) = wait_for(lambda: records_of(a, first, "cancel"), what="the loser's CANCEL")
    assert cancel["reason"] == "name revoked: presence"


def test_a_link_across_nodes_carries_the_failure_and_a_normal_exit_drops_it(
    nodes: dict[str, NodeProc],
) -> None:
    a, b = nodes["a"], nodes["b"]
    watcher, failing, ending = a.agent(trap=True), b.agent(), b.agent()
    a.do(watcher, "link", dest=failing)
    a.do(watcher, "link", dest=ending)
    settle(a, watcher, b, failing)
    settle(a, watcher, b, ending)
    b.do(ending, "exit")
    b.do(failing, "fail")
    downs = wait_for(lambda: records_of(a, watcher, "link_down"), what="LINK_DOWN")
    assert len(downs) == 1, downs
    (down,) = downs
    assert down["from"] == failing
    assert down["error"]["kind"] == "INTERNAL" and down["error"]["message"] == "agent failed on request"
    # The link is two-way: a failure here kills a non-trapping process there.
    victim, linked = b.agent(), a.agent()
    b.do(victim, "link", dest=linked)
    settle(b, victim, a, linked)
    a.do(linked, "fail")
    wait_for(lambda: not b.call("alive", pid=victim), what="the linked process on b to die")
    assert records_of(a, watcher, "link_down") == [down]  # the normal exit sent nothing


def test_a_monitor_across_nodes_reports_every_exit_and_unmonitor_stops_it(nodes: dict[str, NodeProc]) -> None:
    a, b = nodes["a"], nodes["b"]
    watcher, target, forgotten = a.agent(), b.agent(), b.agent()
    a.do(watcher, "monitor", dest=target)
    a.do(watcher, "monitor", dest=forgotten)
    a.do(watcher, "unmonitor", dest=forgotten)
    settle(a, watcher, b, target)
    settle(a, watcher, b, forgotten)
    b.do(forgotten, "exit")
    b.do(target, "exit")
    (exit_,) = wait_for(lambda: records_of(a, watcher, "exit"), what="EXIT")
    assert exit_["from"] == target and exit_["error"] is None
    # Monitoring a process of a live node that has ended: EXIT with NOT_FOUND (Erlang's noproc).
    a.do(watcher, "monitor", dest=forgotten)
    late = wait_for(
        lambda: [r for r in records_of(a, watcher, "exit") if r["from"] == forgotten], what="noproc"
    )
    assert late[0]["error"]["kind"] == "NOT_FOUND"
    assert len(records_of(a, watcher, "exit")) == 2


def events_of(node: NodeProc, agent: str, kind: str) -> list[str]:
    """The PIDs that ``agent`` got a ``kind`` event (``exit``, ``link_down``) from, in order."""
    return [r["from"] for r in records_of(node, agent, kind)]


def test_unlink_across_nodes_removes_the_link_both_ways(nodes: dict[str, NodeProc]) -> None:
    a, b = nodes["a"], nodes["b"]
    # From a: a trapping and a plain process each link to a process of b, then unlink.
    trapping, plain, watcher, sentinel = a.agent(trap=True), a.agent(), a.agent(), a.agent()
    first, second = b.agent(), b.agent()
    a.do(trapping, "link", dest=first)
    a.do(trapping, "unlink", dest=first)
    a.do(trapping, "monitor", dest=sentinel)
    a.do(plain, "link", dest=second)
    a.do(plain, "unlink", dest=second)
    a.do(watcher, "monitor", dest=first)
    a.do(watcher, "monitor", dest=second)
    settle(a, trapping, b, first)
    settle(a, plain, b, second)
    settle(a, watcher, b, first)
    b.do(first, "fail")
    b.do(second, "fail")
    # Their EXITs left b after any LINK_DOWN would have: by then it is in a's mailboxes.
    wait_for(lambda: len(events_of(a, watcher, "exit")) == 2, what="both failures")
    a.do(sentinel, "exit")  # an event after anything the failures could have caused
    assert wait_for(lambda: events_of(a, trapping, "exit"), what="the sentinel") == [sentinel]
    assert events_of(a, trapping, "link_down") == []
    other = b.agent()
    b.do(other, "send", dest=plain, topic="still-here")
    wait_for(lambda: msgs(a, plain, "still-here"), what="the plain process to be alive")  # not killed
    # From b's side: a process of a unlinks; its failure is nothing to the other end.
    far, near, marker = b.agent(trap=True), a.agent(), a.agent()
    b.do(far, "link", dest=near)
    b.do(far, "monitor", dest=near)
    b.do(far, "monitor", dest=marker)
    settle(b, far, a, near)
    settle(b, far, a, marker)
    a.do(near, "unlink", dest=far)
    a.do(near, "fail")
    wait_for(lambda: events_of(b, far, "exit") == [near], what="the EXIT of the unlinked process")
    a.do(marker, "exit")  # leaves a after anything near's failure sent
    wait_for(lambda: events_of(b, far, "exit") == [near, marker], what="the marker")
    assert events_of(b, far, "link_down") == []


def test_cancel_across_nodes_delivers_cancel_and_its_deadline_applies(nodes: dict[str, NodeProc]) -> None:
    a, b = nodes["a"], nodes["b"]
    canceller = a.agent()
    stubborn, patient = b.agent(), b.agent()  # agents record a CANCEL and keep running
    a.do(canceller, "monitor", dest=stubborn)
    a.do(canceller, "monitor", dest=patient)
    settle(a, canceller, b, stubborn)
    settle(a, canceller, b, patient)
    sent = time.time()
    a.do(canceller, "cancel", dest=stubborn, reason="time is up", deadline=0.5)
    a.do(canceller, "cancel", dest=patient, reason="when you can")
    (cancel,) = wait_for(lambda: records_of(b, stubborn, "cancel"), what="the CANCEL on b")
    assert (cancel["reason"], cancel["from"], cancel["deadline"]) == ("time is up", canceller, 0.5)
    (exit_,) = wait_for(lambda: records_of(a, canceller, "exit"), what="the deadline's termination")
    assert exit_["from"] == stubborn
    assert exit_["error"] == {"kind": "INTERNAL", "message": "process terminated", "details": None}
    assert exit_["at"] - sent >= 0.5
    (gentle,) = records_of(b, patient, "cancel")
    assert (gentle["reason"], gentle["from"], gentle["deadline"]) == ("when you can", canceller, None)
    assert b.call("alive", pid=patient)  # no deadline: nobody terminates it
    assert events_of(a, canceller, "exit") == [stubborn]


def test_spawn_exec_and_terminate_on_a_host_of_another_node(nodes: dict[str, NodeProc]) -> None:
    a = nodes["a"]
    parent = a.agent(trap=True)
    child = a.do(parent, "spawn", target="test:crash", host="c@app:processes", link=True)
    assert child.startswith("{c@app:processes|")
    a.do(parent, "send", dest=child, topic="go")
    (down,) = wait_for(lambda: records_of(a, parent, "link_down"), what="the remote child's failure")
    assert down["from"] == child and down["error"]["message"] == "crashed on request"
    assert a.call("exec", target="test:sum", host="c@app:processes", args=[1, 2, 3]) == 6
    worker = a.do(parent, "spawn", target="test:agent", host="c@app:processes", monitor=True)
    a.do(parent, "terminate", dest=worker)
    exits = wait_for(lambda: [r for r in records_of(a, parent, "exit") if r["from"] == worker], what="EXIT")
    assert exits[0]["error"]["message"] == "process terminated"
    with pytest.raises(NodeError) as unknown:
        a.do(parent, "spawn", target="test:agent", host="nowhere@app:processes")
    assert unknown.value.kind == "NOT_FOUND"


def test_groups_span_nodes_broadcast_and_report_joins_and_leaves(nodes: dict[str, NodeProc]) -> None:
    a, b, c = nodes["a"], nodes["b"], nodes["c"]
    observer = c.agent()
    assert c.do(observer, "watch_group", group="workers") == []
    members = {"a": a.agent(), "b": b.agent(), "c": c.agent()}
    for name, agent in members.items():
        assert nodes[name].do(agent, "join", group="workers") is True
    everyone = sorted(members.values())
    for node in (a, b, c):
        wait_for(
            lambda node=node: sorted(node.call("members", group="workers")) == everyone, what="membership"
        )
    assert a.call("local_members", group="workers") == [members["a"]]
    sender = a.agent()
    assert a.do(sender, "broadcast", group="workers", topic="job", payloads=[42]) == 3
    assert a.do(sender, "broadcast", group="workers", topic="local-job", local=True) == 1
    for name, agent in members.items():
        (job,) = wait_for(
            lambda name=name, agent=agent: msgs(nodes[name], agent, "job"), what=f"job on {name}"
        )
        assert (job["payload"], job["from"]) == (42, sender)
    assert [m["payload"] for m in msgs(a, members["a"], "local-job")] == [None]
    assert msgs(b, members["b"], "local-job") == []
    # A leave and an exit are both seen, on every node, by a monitor.
    b.do(members["b"], "leave", group="workers")
    a.do(members["a"], "exit")
    wait_for(lambda: c.call("members", group="workers") == [members["c"]], what="the two departures")
    events = [r["payload"] for r in msgs(c, observer, "pg")]
    joined = sorted(p for e in events if e["kind"] == "member.joined" for p in e["data"]["PIDs"])
    left = sorted(p for e in events if e["kind"] == "member.left" for p in e["data"]["PIDs"])
    assert joined == everyone
    assert left == sorted([members["a"], members["b"]])
    with pytest.raises(NodeError) as not_member:
        b.do(members["b"], "leave", group="workers")
    assert not_member.value.kind == "INVALID"


def test_a_lock_has_one_holder_and_is_released_by_its_exit(nodes: dict[str, NodeProc]) -> None:
    a, b = nodes["a"], nodes["b"]
    holder, contender = a.agent(), b.agent()
    assert a.do(holder, "lock", name="migration") is True
    assert b.do(contender, "lock", name="migration") is False
    assert a.do(holder, "lock", name="migration") is False  # locks do not nest
    assert b.do(contender, "unlock", name="migration") is False  # not the holder: nothing happens
    wait_for(lambda: b.call("lock_holder", name="migration") == holder, what="b to see the holder")
    a.do(holder, "exit")
    wait_for(lambda: not a.call("alive", pid=holder), what="the holder's exit")
    assert b.do(contender, "lock", name="migration") is True
    assert b.do(contender, "unlock", name="migration") is True
    assert b.do(contender, "unlock", name="migration") is False


def test_a_node_name_is_taken_while_its_node_lives(nodes: dict[str, NodeProc], state_dir: Path) -> None:
    with pytest.raises(AssertionError) as refused:
        NodeProc("b", state_dir)
    assert "ALREADY_EXISTS" in str(refused.value)


def test_sigkill_of_a_node_is_link_down_and_exit_everywhere_then_it_rejoins(
    nodes: dict[str, NodeProc], state_dir: Path
) -> None:
    a, b, c = nodes["a"], nodes["b"], nodes["c"]  # a started the server: it survives a's death
    doomed, held = a.agent(), a.agent()
    linked, watcher = b.agent(trap=True), c.agent()
    b.do(linked, "link", dest=doomed)
    c.do(watcher, "monitor", dest=doomed)
    c.do(watcher, "monitor", dest=held)
    settle(b, linked, a, doomed)
    settle(c, watcher, a, doomed)
    settle(c, watcher, a, held)
    assert a.do(held, "lock", name="a-lock") is True
    assert a.do(held, "register", name="a-service") is True
    assert a.do(held, "join", group="a-group") is True
    wait_for(lambda: b.call("members", group="a-group") == [held], what="b to see a's group member")
    wait_for(lambda: b.call("whereis", name="a-service") == held, what="b to see a's name")

    killed_at = a.kill()
    (down,) = wait_for(
        lambda: records_of(b, linked, "link_down"), timeout=FAILURE_TIMEOUT + 5, what="LINK_DOWN"
    )
    exits = wait_for(
        lambda: len(records_of(c, watcher, "exit")) == 2 and records_of(c, watcher, "exit"), what="EXITs"
    )
    assert down["from"] == doomed and down["error"]["kind"] == "NODE_DOWN"
    assert {e["from"] for e in exits} == {doomed, held}
    assert {e["error"]["kind"] for e in exits} == {"NODE_DOWN"}
    last = max(down["at"], *(e["at"] for e in exits))
    assert last - killed_at <= FAILURE_TIMEOUT + 0.25, f"node-down took {last - killed_at:.2f} s"

    # A send to a PID of the dead node is a dead letter, at once.
    started = time.monotonic()
    with pytest.raises(NodeError) as dead:
        c.do(watcher, "send", dest=doomed, topic="hello")
    assert dead.value.kind == "NOT_FOUND" and time.monotonic() - started < 2
    # Its names, locks and group memberships are released.
    assert c.do(watcher, "lock", name="a-lock") is True
    assert c.do(watcher, "register", name="a-service") is True
    assert b.call("members", group="a-group") == []
    assert sorted(b.call("nodes")) == ["b", "c"]

    # A new a rejoins with new PIDs; the others reach it.
    nodes["a"] = a = NodeProc("a", state_dir)
    assert a.info["incarnation"] >= 2
    wait_for(lambda: c.call("nodes") == ["a", "b", "c"], what="c to see a again")
    fresh = a.agent()
    assert fresh not in (doomed, held)
    c.do(watcher, "send", dest=fresh, topic="welcome")
    wait_for(lambda: msgs(a, fresh, "welcome"), what="a message to the new incarnation")
    # A PID of a's earlier life stays a dead letter now that a lives again: the sender's node
    # knows the incarnation that minted it has ended (a monitor is refused the same way).
    started = time.monotonic()
    for op, args in (("send", {"topic": "hello"}), ("monitor", {})):
        with pytest.raises(NodeError) as outlived:
            c.do(watcher, op, dest=doomed, **args)
        assert outlived.value.kind == "NOT_FOUND", op
    assert c.call("alive", pid=doomed) is False and c.call("alive", pid=fresh) is True
    assert time.monotonic() - started < 2


def test_a_node_cut_off_is_declared_down_and_leaves_for_good_when_it_resumes(
    nodes: dict[str, NodeProc], state_dir: Path
) -> None:
    a, b, c = nodes["a"], nodes["b"], nodes["c"]
    doomed, holder, inside = c.agent(), c.agent(), c.agent(trap=True)
    linked, peer, quiet, sentinel = b.agent(trap=True), b.agent(), b.agent(trap=True), b.agent()
    watcher = a.agent()
    b.do(linked, "link", dest=doomed)
    a.do(watcher, "monitor", dest=doomed)
    c.do(inside, "link", dest=peer)
    b.do(quiet, "link", dest=doomed)  # unlinked and unmonitored: nothing when c goes
    b.do(quiet, "unlink", dest=doomed)
    b.do(quiet, "monitor", dest=holder)
    b.do(quiet, "unmonitor", dest=holder)
    b.do(quiet, "monitor", dest=sentinel)
    for src, sender, dst, receiver in (
        (b, linked, c, doomed),
        (a, watcher, c, doomed),
        (c, inside, b, peer),
        (b, quiet, c, doomed),
        (b, quiet, c, holder),
    ):
        settle(src, sender, dst, receiver)
    assert c.do(holder, "register", name="c-service") is True
    assert c.do(holder, "lock", name="c-lock") is True
    assert c.do(holder, "join", group="c-group") is True
    wait_for(lambda: a.call("whereis", name="c-service") == holder, what="a to see c's name")
    wait_for(lambda: b.call("members", group="c-group") == [holder], what="b to see c's group member")
    incarnation = c.info["incarnation"]

    stopped_at = c.pause()  # SIGSTOP: c neither runs nor answers, and NATS hears nothing from it
    try:
        (down,) = wait_for(
            lambda: records_of(b, linked, "link_down"), timeout=FAILURE_TIMEOUT + 5, what="LINK_DOWN"
        )
        (exit_,) = wait_for(lambda: records_of(a, watcher, "exit"), what="EXIT")
        assert (down["from"], exit_["from"]) == (doomed, doomed)
        assert down["error"]["kind"] == exit_["error"]["kind"] == "NODE_DOWN"
        last = max(down["at"], exit_["at"])
        assert last - stopped_at <= FAILURE_TIMEOUT + 0.25, f"node-down took {last - stopped_at:.2f} s"
        # While it is cut off, its name, lock and group membership are released...
        assert a.do(watcher, "register", name="c-service") is True
        assert a.do(watcher, "lock", name="c-lock") is True
        assert b.call("members", group="c-group") == []
        # ...its PIDs are dead letters, and what was unlinked and unmonitored stays quiet.
        with pytest.raises(NodeError) as dead:
            a.do(watcher, "send", dest=doomed, topic="hello")
        assert dead.value.kind == "NOT_FOUND"
        b.do(sentinel, "exit")  # an event after every one c's loss gave
        assert wait_for(lambda: events_of(b, quiet, "exit"), what="the sentinel") == [sentinel]
        assert events_of(b, quiet, "link_down") == []
        # Should it speak again in that life, it is told it is down, and not taken back.
        heartbeat = codec.dumps(["c", incarnation, [], "hb"])
        notices = asyncio.run(
            _notices(state_dir, "c", incarnation, lambda nc: nc.publish("af.actorflow.hb", heartbeat), 2)
        )
        assert sorted(notices) == [["a", 2], ["b", 2]]  # each sees two live nodes
        assert a.call("nodes") == b.call("nodes") == ["a", "b"]
    finally:
        c.resume()

    # Resumed, c finds out it was cut off and leaves: its side of every link breaks too...
    reason = wait_for(lambda: c.call("fenced"), what="c to find out it was cut off")
    assert "node c was cut off from the cluster" in reason, reason
    (inside_down,) = wait_for(lambda: records_of(c, inside, "link_down"), what="LINK_DOWN on c")
    assert inside_down["from"] == peer and inside_down["error"]["kind"] == "NODE_DOWN"
    # ...it holds nothing cluster-wide and reaches no other node; they do not take it back.
    assert c.call("nodes") == ["c"]
    assert c.call("whereis", name="c-service") is None
    with pytest.raises(NodeError) as refused:
        c.do(holder, "register", name="c-service")
    assert refused.value.kind == "UNAVAILABLE"
    with pytest.raises(NodeError) as unreachable:
        c.do(inside, "send", dest=peer, topic="hello")
    assert unreachable.value.kind == "NOT_FOUND"
    assert a.call("nodes") == b.call("nodes") == ["a", "b"]
    assert a.call("whereis", name="c-service") == watcher

    # Started again, it is a new incarnation with new PIDs; the old ones stay dead.
    c.stop()
    nodes["c"] = c = NodeProc("c", state_dir)
    assert c.info["incarnation"] > incarnation
    wait_for(lambda: a.call("nodes") == ["a", "b", "c"], what="a to see c again")
    fresh = c.agent()
    a.do(watcher, "send", dest=fresh, topic="welcome")
    wait_for(lambda: msgs(c, fresh, "welcome"), what="a message to the new incarnation")
    assert not a.call("alive", pid=doomed)


async def _notices(state_dir: Path, name: str, incarnation: int, action: Any, count: int) -> list[list]:
    """Do ``action(nc)`` on a connection of our own, then collect the notices that ``name`` (in
    ``incarnation``, a life the others declared down) is down: ``[node, its live nodes]``, one
    from each of ``count`` nodes."""
    port = json.loads((state_dir / "server.json").read_text())["port"]
    nc = await nats.connect(f"nats://127.0.0.1:{port}")
    try:
        notices: asyncio.Queue[list] = asyncio.Queue()

        async def noticed(msg: Any) -> None:
            sender, _incarnation, about, live = codec.loads(msg.data)
            if about == incarnation:
                await notices.put([sender, live])

        await nc.subscribe(f"af.actorflow.down.{name}", cb=noticed)
        await nc.flush()
        result = action(nc)
        if asyncio.iscoroutine(result):
            await result
        found: dict[str, list] = {}
        while len(found) < count:
            try:
                notice = await asyncio.wait_for(notices.get(), 10)
            except TimeoutError:
                raise AssertionError(f"notices: {found}") from None
            found[notice[0]] = notice
        return sorted(found.values())
    finally:
        await nc.close()


def test_a_node_whose_network_goes_silent_finds_out_by_itself_and_leaves(
    nodes: dict[str, NodeProc], state_dir: Path
) -> None:
    a, b = nodes["a"], nodes["b"]
    link = CuttableLink(json.loads((state_dir / "server.json").read_text())["port"])
    d = NodeProc("d", state_dir, address=link.address)  # its NATS connection goes through the link
    try:
        wait_for(lambda: a.call("nodes") == ["a", "b", "c", "d"], what="a to see d")
        far, inside, near, peer = d.agent(), d.agent(trap=True), a.agent(trap=True), b.agent()
        a.do(near, "link", dest=far)
        d.do(inside, "link", dest=peer)
        settle(a, near, d, far)
        settle(d, inside, b, peer)
        assert d.do(far, "register", name="d-service") is True
        wait_for(lambda: a.call("whereis", name="d-service") == far, what="a to see d's name")

        cut_at = time.time()
        link.cut()  # both ends still believe they are connected; nothing gets through
        (down,) = wait_for(
            lambda: records_of(a, near, "link_down"), timeout=FAILURE_TIMEOUT + 5, what="LINK_DOWN"
        )
        assert down["from"] == far and down["error"]["kind"] == "NODE_DOWN"
        assert down["at"] - cut_at <= FAILURE_TIMEOUT + 0.25
        # d finds out while still cut off: its own heartbeats stopped coming back.
        reason = wait_for(lambda: d.call("fenced"), timeout=5, what="d to find out")
        assert "its heartbeats did not come back from NATS" in reason, reason
        (inside_down,) = wait_for(lambda: records_of(d, inside, "link_down"), what="LINK_DOWN on d")
        assert inside_down["from"] == peer and inside_down["error"]["kind"] == "NODE_DOWN"
        assert a.do(near, "register", name="d-service") is True
        for node in (a, b, nodes["c"]):
            wait_for(lambda node=node: node.call("nodes") == ["a", "b", "c"], what="d to be down everywhere")
        # Mended, what d said meanwhile arrives late: it is told it is down, and not taken back.
        incarnation = d.info["incarnation"]
        notices = asyncio.run(_notices(state_dir, "d", incarnation, lambda nc: link.mend(), 3))
        assert notices == [["a", 3], ["b", 3], ["c", 3]]
        assert a.call("nodes") == b.call("nodes") == ["a", "b", "c"]
        assert a.call("whereis", name="d-service") == near
    finally:
        d.stop()
        link.close()


def test_the_server_outlives_the_node_that_started_it(nodes: dict[str, NodeProc], state_dir: Path) -> None:
    # The previous test killed a, which had started the server; b and c still talk.
    b, c = nodes["b"], nodes["c"]
    one, two = b.agent(), c.agent()
    b.do(one, "send", dest=two, topic="still-here")
    wait_for(lambda: msgs(c, two, "still-here"), what="a message after the starter's death")
    assert os.path.exists(state_dir / "server.json")
