"""A workflow whose Lua code never waits fails its workflow task instead of holding the worker."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from actorflow.app import App
from actors import Probe

from .lua_support import write_app

WORKFLOW = {"temporal": {"workflow": {"worker": "app:worker"}}}
ENTRIES = [
    {"name": "processes", "kind": "process.host"},
    {"name": "temporal_client", "kind": "temporal.client", "server": "time_skipping"},
    {"name": "worker", "kind": "temporal.worker", "client": "app:temporal_client", "task_queue": "busy"},
    {"name": "busy", "kind": "workflow.lua", "source": "file://busy.lua", "meta": WORKFLOW},
    {"name": "busy_at_load", "kind": "workflow.lua", "source": "file://busy_at_load.lua", "meta": WORKFLOW},
    {"name": "quick", "kind": "workflow.lua", "source": "file://quick.lua", "meta": WORKFLOW},
]
FILES = {
    "busy.lua": """
    return {main = function(mode)
      if mode == "pcall" then  -- trying to catch the watchdog changes nothing
        while true do pcall(function() while true do end end) end
      end
      local n = 0
      while true do n = n + 1 end
    end}
    """,
    "busy_at_load.lua": """
    while true do end
    return {main = function() return 1 end}
    """,
    "quick.lua": "return {main = function(x) return x + 1 end}\n",
}


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[App]:
    app_dir = write_app(tmp_path_factory.mktemp("busy"), ENTRIES, FILES)
    with App(app_dir, state_dir=tmp_path_factory.mktemp("busy-state")) as running:
        yield running


def run(app: App, coro_factory: Any) -> Any:
    runtime = app._started[0]
    return runtime.loop.run(coro_factory(runtime.clients["app:temporal_client"]), timeout=60)


def first_task_failure(app: App, workflow_id: str, timeout: float = 30.0) -> str:
    """The message of the workflow's first failed workflow task (waits for it)."""

    async def failures(client: Any) -> list[str]:
        history = await client.get_workflow_handle(workflow_id).fetch_history()
        return [
            event.workflow_task_failed_event_attributes.failure.message
            for event in history.events
            if event.HasField("workflow_task_failed_event_attributes")
        ]

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = run(app, failures)
        if found:
            return str(found[0])
        time.sleep(0.2)
    raise AssertionError(f"no workflow task of {workflow_id} failed within {timeout} s")


def terminate(app: App, workflow_id: str) -> None:
    async def go(client: Any) -> None:
        await client.get_workflow_handle(workflow_id).terminate()

    run(app, go)


@pytest.mark.parametrize(
    ("entry", "mode"), [("app:busy", "plain"), ("app:busy", "pcall"), ("app:busy_at_load", "")]
)
def test_a_loop_that_never_waits_fails_the_task_and_the_worker_runs_on(
    app: App, entry: str, mode: str
) -> None:
    assert app.node is not None
    with Probe(app.node, default_timeout=30) as probe:
        pid = probe.spawn(entry, mode, host="app:worker")
        message = first_task_failure(app, pid.uniq)
        assert message == (
            f"workflow {pid.uniq}: its Lua code ran 1.5 s without waiting (a loop that never yields?)"
            " and was stopped; the workflow task fails"
        )
        # The worker's threads are free again: another workflow runs to its end meanwhile.
        quick = probe.spawn("app:quick", 41, host="app:worker", monitor=True)
        assert probe.expect_exit(quick).value == 42
        terminate(app, pid.uniq)


def test_the_worker_shuts_down_while_a_busy_workflow_is_retried(tmp_path: Path) -> None:
    worker = {**ENTRIES[2], "task_queue": "busy-shutdown"}  # the module's app still serves "busy"
    app_dir = write_app(tmp_path / "app", [*ENTRIES[:2], worker, *ENTRIES[3:]], FILES)
    running = App(app_dir, state_dir=tmp_path / "state")
    running.__enter__()
    try:
        assert running.node is not None
        with Probe(running.node, default_timeout=30) as probe:
            pid = probe.spawn("app:busy", "plain", host="app:worker")
        first_task_failure(running, pid.uniq)
    finally:
        started = time.monotonic()
        running.__exit__(None, None, None)
    assert time.monotonic() - started < 20  # the retried task's loop does not hold the worker
