"""Activities: where they run, how they retry, what their errors carry.

A ``funcs.call`` target runs on the worker its entry's ``meta.temporal.activity``
names, or as a local activity; that meta is checked at load.  Activities
retry without limit by default (spec §12.7), a child workflow's host may be a
raw task queue, and an activity's error keeps its chain with the
``_wrapper`` details (activity ID, type, retry state).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from actorflow.app import App
from actors import Probe, errors

from .workflow_ref_support import (
    WORKER,
    assert_every_workflow_replays,
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


def test_activity_errors_carry_wrapper_activity_id_and_retry_state(probe: Probe) -> None:
    from temporalio.api.enums.v1 import RetryState

    pid = probe.spawn("app:error_details_workflow", host=WORKER, monitor=True)
    result = probe.expect_exit(pid).value
    non_retryable = result["non_retryable"]
    assert (non_retryable["kind"], non_retryable["message"], non_retryable["retryable"]) == (
        errors.INVALID,
        "not a number",
        False,
    )
    assert non_retryable["details"] == {
        "_wrapper": "activity",
        "_activity_id": non_retryable["details"]["_activity_id"],  # Temporal's sequence number
        "_activity_type": "app:double",
        "_retry_state": RetryState.RETRY_STATE_NON_RETRYABLE_FAILURE,
    }
    assert non_retryable["details"]["_activity_id"].isdigit()
    exhausted = result["attempts_exhausted"]
    assert (exhausted["kind"], exhausted["retryable"]) == (errors.UNAVAILABLE, True)
    assert exhausted["details"] == {
        "_wrapper": "activity",
        "_activity_id": "flaky-1",  # activity.id
        "_activity_type": "app:flaky",
        "_retry_state": RetryState.RETRY_STATE_MAXIMUM_ATTEMPTS_REACHED,
    }


def test_a_child_host_may_be_a_raw_task_queue_and_activities_retry_by_default(app: App, probe: Probe) -> None:
    pid = probe.spawn("app:child_queue_workflow", host=WORKER, monitor=True)
    result = probe.expect_exit(pid, timeout=60).value
    assert result["by_queue"].startswith("{app:temporal_client@ref-main|")  # the quirk: host = the queue
    assert result["by_worker"].startswith("{app:temporal_client@app:worker|")
    assert result["by_queue_exit"] is True and result["by_worker_exit"] is True
    assert result["retried"] == {"attempts": 2, "argument": "twice?"}

    async def retry_policy(client: Any) -> Any:
        async for event in client.get_workflow_handle(pid.uniq).fetch_history_events():
            if event.HasField("activity_task_scheduled_event_attributes"):
                return event.activity_task_scheduled_event_attributes.retry_policy
        return None

    policy = run(app, retry_policy)
    assert policy.maximum_attempts == 0  # unlimited, Temporal's default (spec §12.7)
    assert policy.initial_interval.ToTimedelta().total_seconds() == 1


# -- activities as entries declare them ---------------------------------------------------------


def activity_events(app: App, workflow_id: str) -> list[tuple[str, str]]:
    """(activity type, task queue) of each scheduled activity; ("local", name) of each local one."""
    from temporalio.api.enums.v1 import EventType

    async def go(client: Any) -> list[tuple[str, str]]:
        found = []
        async for event in client.get_workflow_handle(workflow_id).fetch_history_events():
            if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
                attributes = event.activity_task_scheduled_event_attributes
                found.append((attributes.activity_type.name, attributes.task_queue.name))
            elif event.event_type == EventType.EVENT_TYPE_MARKER_RECORDED:
                found.append(("marker", event.marker_recorded_event_attributes.marker_name))
        return found

    return run(app, go)


def test_activities_run_on_the_worker_their_entry_names_and_local_ones_locally(
    app: App, probe: Probe
) -> None:
    pid = probe.spawn("app:activities_workflow", host=WORKER, monitor=True)
    result = probe.expect_exit(pid).value
    assert (result["plain"], result["remote"], result["local_call"]) == (2, 4, 6)
    assert result["foreign_local"]["kind"] == errors.NOT_FOUND
    assert "local activity of worker app:acts" in result["foreign_local"]["message"]
    # Sent to app:worker's queue, app:remote_double finds no activity there: the dynamic one refuses.
    assert result["remote_elsewhere"] == {
        "kind": errors.NOT_FOUND,
        "message": "activity 'app:remote_double' is registered on worker app:acts only, not on app:worker",
    }
    assert result["local_with_queue"] == {
        "kind": errors.INVALID,
        "message": "option activity.task_queue does not apply to app:local_double, a local activity",
    }
    assert activity_events(app, pid.uniq) == [
        ("app:double", "ref-main"),
        ("app:remote_double", "ref-acts"),
        ("marker", "core_local_activity"),  # a local activity is a marker, not a scheduled task
        ("app:remote_double", "ref-main"),
    ]


def test_activity_meta_is_checked_at_load(tmp_path: Path) -> None:
    from actors.entries import AppLoadError, load_app

    from .lua_support import write_app

    write_app(
        tmp_path,
        [
            {"name": "c", "kind": "temporal.client"},
            {"name": "w", "kind": "temporal.worker", "client": "c", "task_queue": "q"},
            {
                "name": "f",
                "kind": "function.lua",
                "source": "file://f.lua",
                "meta": {"temporal": {"activity": {"worker": "nope"}}},
            },
            {
                "name": "g",
                "kind": "function.lua",
                "source": "file://f.lua",
                "meta": {"temporal": {"activity": {"worker": "w", "local": "yes", "queue": 1}}},
            },
            {
                "name": "h",
                "kind": "process.lua",
                "source": "file://f.lua",
                "meta": {"temporal": {"activity": {"local": True}}},
            },
        ],
        {"f.lua": "return function() end\n"},
    )
    with pytest.raises(AppLoadError) as info:
        load_app(tmp_path)
    problems = sorted(str(problem) for problem in info.value.problems)
    assert problems == [
        "app.yaml:16: app:g: meta.temporal.activity.local must be true or false",
        "app.yaml:16: app:g: meta.temporal.activity.queue is not a setting (worker, local)",
        "app.yaml:25: app:h: meta.temporal.activity needs worker: the temporal.worker it is registered on",
        "app.yaml:9: app:f: meta.temporal.activity.worker references unknown entry 'app:nope'",
    ]


def test_every_workflow_this_module_ran_replays_in_another_process(app: App, tmp_path: Path) -> None:
    """Last in the module: activities on other workers, local activities, retries."""
    assert_every_workflow_replays(app, tmp_path, at_least=3)
