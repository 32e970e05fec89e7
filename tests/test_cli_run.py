"""``actorflow run`` and the operator commands, run as subprocesses the way a user runs them."""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx
import pytest

from tests.cli_support import ROOT, RunningApp, actorflow, wait_for

EXAMPLES = ROOT / "examples"


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=5).status_code == 200
    except httpx.HTTPError:
        return False


STUBBORN = """
return function()
    local events = process.events()
    while true do events:receive() end  -- ignores CANCEL: only its stop_timeout ends it
end
"""

HTTP_APP = """
namespace: app
entries:
  - {name: processes, kind: process.host, host: {workers: 2}}
  - {name: gateway, kind: http.service, addr: "127.0.0.1:0"}
  - {name: api, kind: http.router, meta: {server: gateway}, prefix: /api}
  - {name: hello, kind: function.lua, source: "return function() return {hello = 'world'} end"}
  - {name: get_hello, kind: http.endpoint, meta: {router: api}, method: GET, path: /hello, func: hello}
  - {name: stubborn, kind: process.lua, source: file://stubborn.lua}
  - {name: polite, kind: process.lua, source: "return function() process.events():receive() end"}
  - {name: slow_a, kind: process.service, process: app:stubborn, host: app:processes,
     lifecycle: {auto_start: true, stop_timeout: 2s}}
  - {name: slow_b, kind: process.service, process: app:stubborn, host: app:processes,
     lifecycle: {auto_start: true, stop_timeout: 3s}}
"""


@pytest.fixture
def http_app(tmp_path: Path) -> Path:
    root = tmp_path / "web"
    root.mkdir()
    (root / "app.yaml").write_text(HTTP_APP)
    (root / "stubborn.lua").write_text(STUBBORN)
    return root


def test_run_serves_http_ps_lists_it_and_sigint_stops_within_the_largest_stop_timeout(
    http_app: Path, tmp_path: Path
) -> None:
    with RunningApp(http_app, tmp_path / "state") as running:
        assert "service  app:slow_a  running" in running.summary
        address = running.http_address("app:gateway")
        response = httpx.get(f"{address}/api/hello", timeout=10)
        assert (response.status_code, response.json()) == (200, {"hello": "world"})

        listed = running.cli("ps", "--json")
        assert listed.returncode == 0, listed.stderr
        rows = json.loads(listed.stdout)
        assert sorted(row["entry"] for row in rows) == [
            "app:stubborn",
            "app:stubborn",
            "supervision.supervisor.Supervisor",
        ]
        manager = next(row for row in rows if row["entry"].endswith("Supervisor"))
        assert all(row["pid"] in manager["links"] for row in rows if row["entry"] == "app:stubborn")
        table = running.cli("ps").stdout.splitlines()
        assert table[0].split() == ["PID", "ENTRY", "HOST", "STATUS", "MAILBOX", "LINKS", "MONITORS", "NAMES"]
        assert len(table) == 4

        tree = running.cli("tree")
        assert tree.returncode == 0
        assert "app:slow_a" in tree.stdout and "running  restarts 0" in tree.stdout

        spawned = running.cli("spawn", "app:polite", "app:processes")
        assert spawned.returncode == 0, spawned.stderr
        pid = spawned.stdout.strip()
        assert pid in {row["pid"] for row in json.loads(running.cli("ps", "--json").stdout)}
        unknown = running.cli("spawn", "app:nothing", "app:processes")
        assert unknown.returncode == 1 and "error: NOT_FOUND: entry 'app:nothing' not found" in unknown.stderr

        # A second run on the same state directory is refused; the first one goes on serving.
        second = actorflow("run", str(http_app), "--state-dir", str(running.state_dir), timeout=60)
        assert second.returncode == 1
        assert f"in use by another actorflow run (pid {running.process.pid})" in second.stderr
        assert "Traceback" not in second.stderr
        assert httpx.get(f"{address}/api/hello", timeout=10).status_code == 200

        status, took = running.interrupt()
    assert status == 0, running.output()
    # Both services ignore CANCEL and are terminated at their deadline, in parallel:
    # the largest stop_timeout (3 s), never the sum (5 s).
    assert 2.8 <= took < 3 + 2, took


def test_operator_commands_say_when_no_app_is_running(tmp_path: Path) -> None:
    app = tmp_path / "idle"
    app.mkdir()
    (app / "app.yaml").write_text("namespace: app\nentries:\n  - {name: processes, kind: process.host}\n")
    for command in (
        ["ps"],
        ["tree"],
        ["workflows"],
        ["stop"],
        ["send", "x", "topic"],
        ["spawn", "app:x", "h"],
    ):
        result = actorflow(command[0], str(app), *command[1:])
        assert result.returncode == 2, (command, result.stderr)
        assert f"no actorflow app is running in {app}" in result.stderr
        assert f"actorflow run {app}" in result.stderr
        assert "Traceback" not in result.stderr
    assert "usage: actorflow ps" in actorflow("ps", "--help").stdout


def test_counter_example_driven_with_send_tree_and_workflows(tmp_path: Path) -> None:
    with RunningApp(EXAMPLES / "counter", tmp_path / "state", "--ui") as running:
        assert "worker    app:worker  task queue counter" in running.summary
        ui = re.search(r"^\s+web ui\s+(http://127\.0\.0\.1:\d+)$", running.summary, re.MULTILINE)
        assert ui, running.summary
        assert wait_for(lambda: _answers(ui.group(1)), timeout=30)  # the Temporal Web UI serves
        wait_for(lambda: "counter started" in "".join(running.stderr))  # logged once it has its name
        # The start messages added 2 + 1 + 4; the counter answers ack, then ok with the value.
        added = running.cli("send", "counter", "increment", '{"amount": 5}', "--wait", "30", "--replies", "2")
        assert added.returncode == 0, added.stderr
        lines = added.stdout.splitlines()
        assert lines[0] == "sent increment to {app:temporal_client@app:worker|counter-workflow}"
        assert lines[1:] == ["ack", 'ok  {"value": 12}']
        refused = running.cli(
            "send", "counter", "decrement", '{"amount": 100}', "--wait", "30", "--replies", "1"
        )
        assert refused.stdout.splitlines()[1:] == ['nak  "would result in negative value"']
        bad = running.cli(
            "send", "counter", "increment", '"five"', "--wait", "30", "--replies", "1", "--json"
        )
        assert json.loads(bad.stdout)["replies"][0]["payload"] == "amount must be a number"

        listed = json.loads(running.cli("ps", "--json").stdout)
        starter = next(row for row in listed if row["entry"] == "app:start_counter")
        assert starter["host"] == "app:processes" and starter["status"] in ("waiting", "runnable")
        tree = running.cli("tree").stdout
        assert "app:counter" in tree and "running" in tree
        open_workflows = running.cli("workflows").stdout
        assert "counter-workflow" in open_workflows and "RUNNING" in open_workflows

        finished = running.cli("send", "counter", "finish", "--wait", "30", "--replies", "2")
        assert finished.stdout.splitlines()[1:] == ["ack", 'ok  {"message": "finishing"}']
        closed = wait_for(lambda: running.cli("workflows", "--closed", "--json").stdout.strip("[]\n ") and
                          json.loads(running.cli("workflows", "--closed", "--json").stdout))  # fmt: skip
        assert [(row["workflow_id"], row["status"]) for row in closed] == [("counter-workflow", "COMPLETED")]
        wait_for(lambda: "exited" in running.cli("tree").stdout)  # the starter ends with the counter
        status, _took = running.interrupt()
    assert status == 0, running.output()
    finished_lines = [line for line in running.stderr if "counter finished" in line]
    assert len(finished_lines) == 1 and "final_counter" in finished_lines[0] and "12" in finished_lines[0]


def test_supervision_example_shows_a_crashed_worker_restarting_in_tree(tmp_path: Path) -> None:
    with RunningApp(EXAMPLES / "supervision", tmp_path / "state") as running:
        before = json.loads(running.cli("tree", "--json").stdout)["supervisors"][0]
        assert before["id"] == "workers" and before["restarts"] == 0
        flaky = next(child for child in before["children"] if child["id"] == "flaky")
        crashed = running.cli("send", "flaky", "crash")
        assert crashed.returncode == 0 and crashed.stdout.startswith(f"sent crash to {flaky['pid']}")

        def restarted() -> dict | None:
            tree = json.loads(running.cli("tree", "--json").stdout)["supervisors"][0]
            child = next(child for child in tree["children"] if child["id"] == "flaky")
            return tree if child["restarts"] == 1 and child["pid"] != flaky["pid"] else None

        after = wait_for(restarted)
        assert after["restarts"] == 1
        assert next(child for child in after["children"] if child["id"] == "steady")["restarts"] == 0
        text = running.cli("tree").stdout
        assert text.splitlines()[0].startswith("workers (one_for_one)") and "restarts 1" in text
        stopped = running.cli("stop")
        assert stopped.returncode == 0 and "stopped" in stopped.stdout
        assert running.process.wait(30) == 0


def test_exec_refuses_arguments_it_cannot_carry_without_a_traceback(tmp_path: Path) -> None:
    app = tmp_path / "echo"
    app.mkdir()
    (app / "app.yaml").write_text(
        "namespace: app\nentries:\n"
        "  - {name: echo, kind: process.lua, source: 'return function(x) return x end'}\n"
        "  - {name: nan, kind: process.lua, source: 'return function() return {n = 0/0, i = 1/0} end'}\n"
    )
    cases = {
        "[" * 10_000 + "]" * 10_000: "nested",
        '"\\ud800"': "lone surrogate",
        "1" + "0" * 30: "does not fit in 64 bits",
        "NaN": "NaN is not a JSON number",
        "[1, Infinity]": "Infinity is not a JSON number",
    }
    for argument, reason in cases.items():
        result = actorflow("exec", str(app), "app:echo", argument, "-q")
        assert result.returncode == 1, (argument[:20], result.stderr)
        assert result.stderr.startswith("error: INVALID: argument 1"), result.stderr
        assert reason in result.stderr and "Traceback" not in result.stderr
    ok = actorflow("-q", "exec", str(app), "app:echo", '{"a": [1, 2.5, "é"]}')
    assert (ok.returncode, json.loads(ok.stdout)) == (0, {"a": [1, 2.5, "é"]})
    assert ok.stderr == ""  # -q before the command silences progress too
    nan = actorflow("exec", str(app), "app:nan", "-q")
    assert json.loads(nan.stdout) == {"n": "NaN", "i": "Infinity"}  # valid JSON, always
    for bad in ("nan", "-1", "inf", "0"):
        result = actorflow("exec", str(app), "app:echo", "1", "--timeout", bad)
        assert result.returncode == 2 and "--timeout" in result.stderr, result.stderr


ORDER_APP = """
namespace: app
entries:
  - {name: processes, kind: process.host}
  - {name: temporal_client, kind: temporal.client}
  - {name: worker, kind: temporal.worker, client: app:temporal_client, task_queue: orders}
  - {name: charge, kind: function.lua, source: file://charge.lua, modules: [logger]}
  - {name: refund, kind: function.lua, source: file://refund.lua, modules: [logger]}
  - name: order
    kind: workflow.lua
    source: file://order.lua
    modules: [funcs]
    meta: {temporal: {workflow: {worker: app:worker}}}
"""

ORDER_FILES = {
    "charge.lua": 'local logger = require("logger")\n'
    'return function(order) logger:info("charged", {order = order.id}) return {id = "pay-" .. order.id} end\n',
    "refund.lua": 'local logger = require("logger")\n'
    'return function(order) logger:info("refunded", {order = order.id}) return true end\n',
    # Charged, then waits (for shipping, say); a cancel refunds before it ends.
    "order.lua": """
local funcs = require("funcs")
return function(order)
    local events = process.events()
    funcs.call("app:charge", order)
    while true do
        local event = events:receive()
        if event.kind == process.event.CANCEL then
            funcs.call("app:refund", order)
            return {status = "cancelled", refunded = true}
        end
    end
end
""",
}


def test_exec_timeout_cancels_a_workflow_so_it_compensates_or_leaves_it_running(tmp_path: Path) -> None:
    app = tmp_path / "orders"
    app.mkdir()
    (app / "app.yaml").write_text(ORDER_APP)
    for name, text in ORDER_FILES.items():
        (app / name).write_text(text)
    state = tmp_path / "state"
    cancelled = actorflow(
        "exec", str(app), "app:order", '{"id": "o-1"}', "--timeout", "3", "--state-dir", str(state)
    )
    assert cancelled.returncode == 1, cancelled.stderr
    assert "error: TIMEOUT: workflow {app:temporal_client@app:worker|" in cancelled.stderr
    assert "still running after 3 s: cancelled, it ended (normally)" in cancelled.stderr
    assert "charged order=o-1" in cancelled.stderr and "refunded order=o-1" in cancelled.stderr
    assert cancelled.stdout == ""

    left = actorflow(
        "exec", str(app), "app:order", '{"id": "o-2"}', "--timeout", "2", "--on-timeout", "leave",
        "--state-dir", str(state),
    )  # fmt: skip
    assert left.returncode == 1
    assert "still running after 2 s: left running" in left.stderr
    assert "charged order=o-2" in left.stderr and "refunded" not in left.stderr
    with RunningApp(app, state) as running:  # the run picks up the workflow left running
        rows = json.loads(running.cli("workflows", "--json").stdout)
        assert [(row["type"], row["status"]) for row in rows] == [("app:order", "RUNNING")]
        closed = json.loads(running.cli("workflows", "--closed", "--json").stdout)
        assert [(row["type"], row["status"]) for row in closed] == [("app:order", "COMPLETED")]
        assert running.interrupt()[0] == 0


def test_an_unreachable_temporal_address_is_an_error_line_not_a_traceback(tmp_path: Path) -> None:
    app = tmp_path / "remote"
    app.mkdir()
    (app / "app.yaml").write_text(
        "namespace: app\nentries:\n"
        "  - {name: temporal_client, kind: temporal.client, address: '127.0.0.1:1', connection_timeout: 2s}\n"
        "  - {name: main, kind: process.lua, source: 'return function() return 1 end'}\n"
    )
    result = actorflow("exec", str(app), "app:main", "-q")
    assert result.returncode == 1
    assert result.stderr.startswith("error: UNAVAILABLE: cannot connect to Temporal at 127.0.0.1:1")
    assert "Traceback" not in result.stderr
    assert "127.0.0.1:1" in result.stderr and "(starting app:temporal_client)" in result.stderr


def test_a_second_sigint_stops_at_once_and_exec_is_cancelled_by_sigint(tmp_path: Path) -> None:
    import signal
    import subprocess
    import sys
    import time

    app = tmp_path / "slow"
    app.mkdir()
    (app / "app.yaml").write_text(
        "namespace: app\nentries:\n"
        "  - {name: processes, kind: process.host}\n"
        "  - {name: stubborn, kind: process.lua, source: file://stubborn.lua}\n"
        "  - {name: slow, kind: process.service, process: app:stubborn, host: app:processes,\n"
        "     lifecycle: {auto_start: true, stop_timeout: 60s}}\n"
    )
    (app / "stubborn.lua").write_text(STUBBORN)
    with RunningApp(app, tmp_path / "state") as running:
        running.process.send_signal(signal.SIGINT)
        wait_for(lambda: "· stopping" in "".join(running.stderr))
        began = time.monotonic()
        running.process.send_signal(signal.SIGINT)  # the service would hold the stop for 60 s
        assert running.process.wait(10) == 130
        assert time.monotonic() - began < 5
        assert "interrupted again: exiting now" in "".join(running.stderr)

    (app / "app.yaml").write_text(  # no service now: only the entry exec runs
        "namespace: app\nentries:\n  - {name: stubborn, kind: process.lua, source: file://stubborn.lua}\n"
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "actorflow.cli", "exec", str(app), "app:stubborn", "--state-dir", str(tmp_path / "x")],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert process.stderr is not None
    for line in process.stderr:
        if "running app:stubborn" in line:
            break
    process.send_signal(signal.SIGINT)
    _out, err = process.communicate(timeout=30)
    assert process.returncode == 130
    assert "error: CANCELED: process {app:processes|" in err and "interrupted: cancelled" in err
