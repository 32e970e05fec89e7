"""Workflows across two nodes: one Temporal server, one task queue, workers on both nodes.

Each node is an OS process running the same app (a ``temporal.client`` at the
test's dev server, a ``temporal.worker`` on queue ``shared``) and in the same
cluster.  A workflow started on one node is signalled and monitored from the
other, and keeps running on the other's worker when the first node is killed.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from cluster import EmbeddedNats
from temporal_bridge.server import DevServer
from tests.cluster_support import NodeProc, records_of, wait_for

WAITER = """
-- Waits for "go", returns what it carried and who sent it.
local function main(input)
    local go = process.listen("go", {message = true})
    local msg = go:receive()
    return {got = msg:payload():data(), from = msg:from(), tag = input.tag}
end
return {main = main}
"""


def app_yaml(address: str) -> str:
    return f"""
namespace: app
entries:
  - name: processes
    kind: process.host
  - name: temporal_client
    kind: temporal.client
    address: "{address}"
  - name: worker
    kind: temporal.worker
    client: app:temporal_client
    task_queue: shared
  - name: waiter
    kind: workflow.lua
    source: file://waiter.lua
    meta: {{temporal: {{workflow: {{worker: app:worker}}}}}}
"""


@pytest.fixture(scope="module")
def two_nodes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, NodeProc]]:
    root = tmp_path_factory.mktemp("cluster-workflows")
    server = DevServer(root / "temporal", persistent=False)
    address = server.start()
    app_dir = root / "app"
    app_dir.mkdir()
    (app_dir / "app.yaml").write_text(app_yaml(address))
    (app_dir / "waiter.lua").write_text(WAITER)
    state_dir = root / "nats"
    nodes: dict[str, NodeProc] = {}
    try:
        for name in ("a", "b"):
            nodes[name] = NodeProc(name, state_dir, app=app_dir)
        wait_for(lambda: nodes["b"].call("nodes") == ["a", "b"], what="b to see a")
        yield nodes
    finally:
        with ThreadPoolExecutor(len(nodes) or 1) as pool:
            list(pool.map(NodeProc.stop, nodes.values()))
        cleanup = EmbeddedNats(state_dir)
        cleanup.start()
        cleanup.stop()
        server.stop()


def test_a_workflow_is_signalled_monitored_and_linked_from_another_node(
    two_nodes: dict[str, NodeProc],
) -> None:
    a, b = two_nodes["a"], two_nodes["b"]
    starter, remote = a.agent(), b.agent(trap=True)
    workflow = a.do(
        starter, "spawn", target="app:waiter", host="app:worker", monitor=True, args=[{"tag": "one"}]
    )
    assert workflow.startswith("{app:temporal_client@app:worker|")
    b.do(remote, "monitor", dest=workflow)
    b.do(remote, "link", dest=workflow)
    b.do(remote, "send", dest=workflow, topic="go", payloads=[{"n": 5}])
    expected = {"got": {"n": 5}, "from": remote, "tag": "one"}
    for node, agent in ((a, starter), (b, remote)):
        exits = wait_for(
            lambda node=node, agent=agent: records_of(node, agent, "exit"), timeout=60, what="EXIT"
        )
        assert exits[0]["from"] == workflow and exits[0]["error"] is None
        assert exits[0]["value"] == expected


def test_workers_of_both_nodes_serve_one_task_queue(two_nodes: dict[str, NodeProc]) -> None:
    a, b = two_nodes["a"], two_nodes["b"]
    starter, watcher = a.agent(), b.agent()
    workflow = a.do(starter, "spawn", target="app:waiter", host="app:worker", args=[{"tag": "two"}])
    b.do(watcher, "monitor", dest=workflow)
    a.kill()  # a's worker is gone: b's worker runs the rest of the workflow
    b.do(watcher, "send", dest=workflow, topic="go", payloads=["after"])
    exits = wait_for(
        lambda: records_of(b, watcher, "exit"), timeout=60, what="the workflow's end on b's worker"
    )
    assert exits[0]["error"] is None and exits[0]["value"]["got"] == "after"
