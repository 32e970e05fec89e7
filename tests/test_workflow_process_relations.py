"""Processes and workflows watching each other, and a workflow's own process operations.

A process linked to a workflow that completes gets its EXIT and runs on;
monitoring a closed workflow gives its outcome, an unknown one NOT_FOUND;
inside a workflow ``monitor``/``link`` are INVALID and ``cancel``/
``terminate`` are cancel requests; ``process.upgrade`` in a workflow is
continue-as-new, keeping the PID and the context (issue 13 item 7).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from actorflow.app import App
from actorflow.pytest_plugin import wait_until
from actors import Probe, errors

from .workflow_ref_support import (
    WORKER,
    assert_every_workflow_replays,
    drive,
    ref_app,
    ref_probe,
    run,
)

pytestmark = pytest.mark.temporal("dev")


@pytest.fixture(scope="module")
def app(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[App]:
    with ref_app(request, tmp_path_factory) as running:
        yield running


@pytest.fixture
def probe(app: App) -> Iterator[Probe]:
    with ref_probe(app) as probe:
        yield probe


def test_a_process_linked_to_a_workflow_that_completes_gets_exit_and_runs_on(app: App) -> None:
    assert drive(app, "linked_completion") == {
        "kind": "pid.exit",
        "from": True,
        "value": {"stopped": "done"},
        "still_running": True,
    }


def test_monitoring_a_closed_workflow_gives_its_outcome_and_an_unknown_one_not_found(app: App) -> None:
    result = drive(app, "monitor_closed_and_unknown")
    assert result["first"] == {"stopped": "first"}
    assert (result["ok"], result["again"]) == (
        True,
        {"kind": "pid.exit", "from": True, "value": {"stopped": "first"}},
    )
    assert result["failed_again"] == "told to fail"
    assert result["unknown_ok"] is True  # as in the runtime: monitoring a workflow always succeeds
    assert result["missing"] == {
        "kind": "pid.exit",
        "from": "{app:temporal_client@app:worker|never-existed}",
        "error_kind": errors.NOT_FOUND,
    }


def test_monitor_link_cancel_and_terminate_inside_a_workflow(probe: Probe) -> None:
    canceled = probe.spawn("app:waiting_workflow", host=WORKER, monitor=True)
    terminated = probe.spawn("app:waiting_workflow", host=WORKER, monitor=True)
    pid = probe.spawn(
        "app:inside_ops_workflow",
        {"cancel": str(canceled), "terminate": str(terminated)},
        host=WORKER,
        monitor=True,
    )
    result = probe.expect_exit(pid).value
    for name in ("monitor", "link", "unmonitor", "unlink"):
        assert result[name] == {
            "kind": errors.INVALID,
            "message": f"process.{name} is not supported in workflow context",
        }, name
    assert result["cancel"] == {"ok": True} and result["terminate"] == {"ok": True}
    # Both are cancel requests: each target sees a CANCEL event and finishes as it likes.
    for target in (canceled, terminated):
        assert probe.expect_exit(target).value == {"saw": "pid.cancel", "from": "{|topology}"}


def test_process_upgrade_in_a_workflow_continues_as_new_keeping_pid_and_context(
    app: App, probe: Probe
) -> None:
    pid = probe.spawn("app:upgrade_workflow", 1, host=WORKER, monitor=True, context={"tenant": "t-1"})
    result = probe.expect_exit(pid).value  # the monitor follows every run
    assert result["type"] == "app:upgraded_workflow" and result["tenant"] == "t-1"
    assert result["pid"] == str(pid)
    assert result["seen"] == [{"generation": n, "pid": str(pid), "tenant": "t-1"} for n in (1, 2, 3)]

    async def runs(client: Any) -> list[str]:
        return [
            execution.workflow_type async for execution in client.list_workflows(f"WorkflowId = '{pid.uniq}'")
        ]

    found = wait_until(lambda: len(run(app, runs)) == 4 and run(app, runs), 10, what="four runs listed")
    assert sorted(found) == ["app:upgrade_workflow"] * 3 + ["app:upgraded_workflow"]


def test_every_workflow_this_module_ran_replays_in_another_process(app: App, tmp_path: Path) -> None:
    """Last in the module: links, monitors, cancel requests, continue-as-new."""
    assert_every_workflow_replays(app, tmp_path, at_least=6)
