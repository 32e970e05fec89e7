"""Recorded histories replay in another OS process without nondeterminism errors.

The histories are recorded in this process with the time zone set to UTC+5:30
and replayed in a process on UTC: nothing a workflow sees may depend on it.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from actorflow.pytest_plugin import TemporalEnvironment, running_app, temporal_environment
from actors import Probe
from actors.entries import load_app

from .replay_support import replay
from .test_workflows_seeds import APP_DIR, Calls, business_functions

pytestmark = pytest.mark.temporal


@pytest.fixture(scope="module")
def recorded(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Path]]:
    """Run the example workflows once and keep their histories as JSON files."""
    out = tmp_path_factory.mktemp("histories")
    zone = os.environ.get("TZ")
    os.environ["TZ"] = "IST-5:30"
    time.tzset()
    try:
        yield from _record(temporal_environment(request), tmp_path_factory, out)
    finally:
        if zone is None:
            del os.environ["TZ"]
        else:
            os.environ["TZ"] = zone
        time.tzset()


def _record(
    temporal: TemporalEnvironment, tmp_path_factory: pytest.TempPathFactory, out: Path
) -> Iterator[dict[str, Path]]:
    state = tmp_path_factory.mktemp("replay-state")
    functions = business_functions(Calls())
    with running_app(APP_DIR, state_dir=state, temporal=temporal, functions=functions) as app:
        node = app.node
        assert node is not None
        runtime = app._started[0]
        with Probe(node, default_timeout=30) as probe:
            pids: dict[str, Any] = {}

            def run(name: str, entry: str, *args: Any) -> Any:
                pid = probe.spawn(entry, *args, host="app:worker", monitor=True)
                pids[name] = pid
                return pid

            counter = run("counter", "app:counter_workflow", {"initial": 1})
            probe.send(counter, "increment", {"amount": 2})
            probe.expect_message("ok")
            probe.send(counter, "finish")
            probe.expect_message("ok")
            jobs = run("jobs", "app:jobs_workflow", {})
            probe.send(jobs, "add_job", {"id": 1})
            probe.send(jobs, "exit")
            run("pool", "app:pool_workflow", {"workers": 3, "jobs": 6})
            run("saga", "app:saga_workflow", ["x"], 10, {"id": "o", "fail": True})
            run("pairs", "app:pairs_workflow")
            approval = run("approval", "app:approval_workflow", {"order_id": "o"})
            probe.send(approval, "decision", {"approved": True})
            pong = run("pong", "app:pong_workflow")
            run("ping", "app:ping_workflow", {"target": str(pong)})
            inbox = run("inbox", "app:inbox_workflow", {"id": "o-1"})
            probe.send(inbox, "approve", {})
            status = run("status", "app:status_workflow")
            assert app.exec("app:status_caller", str(status), timeout=30) == {
                "status": "processing",
                "progress": 75,
            }
            compensation = {"items": ["a"], "payment": {"card": "x"}, "shipping": {"address": "here"}}
            run("compensation", "app:compensation_workflow", compensation)
            run("determinism", "app:determinism_workflow")
            results = {name: probe.expect_exit(pid) for name, pid in pids.items()}
            assert results["determinism"].value == {
                "hour": "00",  # UTC, though this process is on UTC+5:30
                "midnight": 1796083200,
                "names": "table: 0x00000001 function: 0x00000002",
                "local_clock": "00:00 1796083200",  # time.localtz is UTC in a workflow
                "table_keys": "determinism_workflow.lua:27: pairs: a table with table keys has no "
                "deterministic order in a workflow; key it by a string or number",
            }
            client = runtime.clients["app:temporal_client"]
            files = {}
            for name, pid in pids.items():

                async def fetch(workflow_id: str = pid.uniq) -> Any:
                    return await client.get_workflow_handle(workflow_id).fetch_history()

                history = runtime.loop.run(fetch())
                path = out / f"{name}.json"
                path.write_text(history.to_json())
                files[name] = path
    yield files


def test_every_example_workflow_was_recorded(recorded: dict[str, Path]) -> None:
    """Each workflow.lua entry of the examples app has a history in the replay set."""
    registry = load_app(APP_DIR)
    entries = {entry.name.removesuffix("_workflow") for entry in registry.of_kind("workflow.lua")}
    assert entries == set(recorded)


def test_every_example_history_replays_in_another_process(recorded: dict[str, Path]) -> None:
    result = replay(APP_DIR, list(recorded.values()))
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"replayed {len(recorded)} histories, 0 failed" in result.stdout


def test_a_changed_workflow_is_caught_as_nondeterministic(recorded: dict[str, Path], tmp_path: Path) -> None:
    """The control: replay does fail when the code no longer matches the history."""
    changed = tmp_path / "changed"
    shutil.copytree(APP_DIR, changed)
    source = (changed / "pairs_workflow.lua").read_text()
    (changed / "pairs_workflow.lua").write_text(
        source.replace(
            'funcs.call("app:echo_activity", {job_id = name, data = count})',
            'funcs.call("app:fulfill", name)',
        )
    )
    result = replay(changed, [recorded["pairs"]])
    assert result.returncode == 1
    assert "FAIL" in result.stdout and "replayed 1 histories, 1 failed" in result.stdout
