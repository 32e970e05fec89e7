"""Seed 003's workflow reference, block by block, against the real Temporal dev server.

docs/workflow-features.md lists each feature of the reference with the test
here that covers it.
"""

from __future__ import annotations

import asyncio
import shutil
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import WorkflowExecutionStatus

from actorflow.app import App
from actorflow.pytest_plugin import TemporalEnvironment, running_app, temporal_environment, wait_until
from actors import PID, Error, Probe, errors

from .replay_support import assert_all_replay, replay

APP_DIR = Path(__file__).parent / "apps" / "workflow_api"
WORKER = "app:worker"
pytestmark = pytest.mark.temporal("dev")  # describe, visibility and search attributes


@pytest.fixture(scope="module")
def app(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[App]:
    state = tmp_path_factory.mktemp("api-state")
    with running_app(APP_DIR, state_dir=state, temporal=temporal_environment(request)) as running:
        node = running.node
        assert node is not None
        node.register_function(
            "app:old_payment", lambda payment: {"paid_by": "old", "amount": payment["amount"]}
        )
        node.register_function(
            "app:new_payment", lambda payment: {"paid_by": "new", "amount": payment["amount"]}
        )
        node.register_function("app:fetch_data", lambda item_id: {"id": item_id, "name": "widget"})
        yield running


@pytest.fixture
def probe(app: App) -> Iterator[Probe]:
    assert app.node is not None
    with Probe(app.node, trap_links=True, default_timeout=30) as probe:
        yield probe


def run(app: App, coro_factory: Any) -> Any:
    runtime = app._started[0]
    return runtime.loop.run(coro_factory(runtime.clients["app:temporal_client"]), timeout=60)


def drive(app: App, mode: str, argument: Any = None) -> Any:
    return app.exec("app:driver", mode, argument, timeout=60)


def describe(app: App, workflow_id: str) -> Any:
    async def go(client: Any) -> Any:
        return await client.get_workflow_handle(workflow_id).describe()

    return run(app, go)


def history_json(app: App, workflow_id: str) -> str:
    async def go(client: Any) -> Any:
        return (await client.get_workflow_handle(workflow_id).fetch_history()).to_json()

    return run(app, go)


def terminate(app: App, workflow_id: str) -> None:
    async def go(client: Any) -> None:
        await client.get_workflow_handle(workflow_id).terminate()

    run(app, go)


# -- the workflow module -----------------------------------------------------------------------


def test_workflow_info_has_every_field(probe: Probe) -> None:
    pid = probe.spawn("app:info_workflow", host=WORKER, monitor=True)
    result = probe.expect_exit(pid).value
    info = result["info"]
    assert info["workflow_id"] == pid.uniq
    assert info["workflow_type"] == "InfoWorkflow"  # meta.temporal.workflow.name
    assert (info["task_queue"], info["namespace"], info["attempt"]) == ("api", "default", 1)
    assert info["run_id"] and info["history_length"] >= 3 and info["history_size"] > 0
    assert result["length"] >= 3 and result["size"] > 0


def test_workflow_exec_runs_a_child_synchronously(probe: Probe) -> None:
    pid = probe.spawn("app:parent_workflow", "sync", {"x": 1}, host=WORKER, monitor=True)
    result = probe.expect_exit(pid).value
    assert result["echo"] == {"x": 1}
    assert result["child"].startswith("{app:temporal_client@app:worker|")


def test_version_gives_new_executions_the_maximum(probe: Probe) -> None:
    pid = probe.spawn("app:versioned_workflow", {"amount": 5}, host=WORKER, monitor=True)
    assert probe.expect_exit(pid).value == {"version": 2, "result": {"paid_by": "new", "amount": 5}}


def test_version_keeps_running_workflows_on_their_recorded_version(
    tmp_path: Path, temporal_env: TemporalEnvironment
) -> None:
    """A history recorded before the change replays with the new code (version 1 path)."""
    old = tmp_path / "old"
    shutil.copytree(APP_DIR, old, ignore=shutil.ignore_patterns(".actorflow"))
    (old / "app.yaml").write_text(
        (old / "app.yaml").read_text().replace('task_queue: "api"', 'task_queue: "api-old"')
    )
    (old / "versioned_workflow.lua").write_text(
        'local funcs = require("funcs")\n'
        "return {main = function(input)\n"
        '  return {version = 1, result = funcs.call("app:old_payment", input)}\n'
        "end}\n"
    )
    with running_app(old, state_dir=tmp_path / "old-state", temporal=temporal_env) as old_app:
        assert old_app.node is not None
        old_app.node.register_function("app:old_payment", lambda payment: {"paid_by": "old"})
        with Probe(old_app.node, default_timeout=30) as probe:
            pid = probe.spawn("app:versioned_workflow", {"amount": 1}, host=WORKER, monitor=True)
            assert probe.expect_exit(pid).value == {"version": 1, "result": {"paid_by": "old"}}
        history = tmp_path / "versioned.json"
        history.write_text(history_json(old_app, pid.uniq))
    guarded = replay(APP_DIR, [history])
    assert guarded.returncode == 0, guarded.stdout + guarded.stderr
    unguarded = tmp_path / "unguarded"
    shutil.copytree(APP_DIR, unguarded, ignore=shutil.ignore_patterns(".actorflow"))
    (unguarded / "versioned_workflow.lua").write_text(
        'local funcs = require("funcs")\n'
        "return {main = function(input)\n"
        '  return {version = 2, result = funcs.call("app:new_payment", input)}\n'
        "end}\n"
    )
    broken = replay(unguarded, [history])
    assert broken.returncode == 1 and "1 failed" in broken.stdout


def test_attrs_are_found_by_a_visibility_query_and_memo_is_kept(app: App, probe: Probe) -> None:
    pid = probe.spawn(
        "app:attrs_workflow", {"customer_id": "cust-42", "total": 99.5}, host=WORKER, monitor=True
    )

    async def find(client: Any) -> list[str]:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            found = [
                wf.id
                async for wf in client.list_workflows('customer_id = "cust-42" AND status = "processing"')
            ]
            if found:
                return found
            await asyncio.sleep(0.2)
        return []

    assert run(app, find) == [pid.uniq]
    description = describe(app, pid.uniq)

    async def memo(client: Any) -> dict[str, Any]:
        return await description.memo()

    assert run(app, memo) == {"notes": "Priority customer", "source": "web"}
    probe.send(pid, "done")
    assert probe.expect_exit(pid).value == "ok"


# -- starting workflows -------------------------------------------------------------------------


def test_spawn_with_name_deduplicates_starts(app: App) -> None:
    result = drive(app, "spawn_named", {"id": "n-1"})
    assert result["same"] is True
    assert result["exit"] == {"stopped_at": 1}


def test_explicit_id_and_conflict_policies(app: App) -> None:
    result = drive(app, "explicit_id", {"id": "c-1"})
    assert result["pid"] == "{app:temporal_client@app:worker|order-c-1}"
    assert result["reused"] is True
    assert result["fail_kind"] == errors.ALREADY_EXISTS
    assert result["started_kind"] == errors.ALREADY_EXISTS
    assert result["exit"] == {"stopped_at": 1}


SEED_OPTIONS = {
    "temporal.workflow.id": "order-123",
    "temporal.workflow.execution_timeout": "24h",
    "temporal.workflow.run_timeout": "1h",
    "temporal.workflow.task_timeout": "30s",
    "temporal.workflow.id_conflict_policy": "fail",
    "temporal.workflow.retry_policy": {
        "initial_interval": 1000,
        "backoff_coefficient": 2.0,
        "maximum_interval": 300000,
        "maximum_attempts": 3,
    },
    "temporal.workflow.cron_schedule": "0 */6 * * *",
    "temporal.workflow.search_attributes": {"customer_id": "cust-123"},
    "temporal.workflow.memo": {"source": "api"},
    "temporal.workflow.start_delay": "5m",
    "temporal.workflow.parent_close_policy": "terminate",
}


def test_the_seed_option_table_as_written_is_refused_by_temporal(probe: Probe) -> None:
    """Temporal does not accept a cron schedule together with a start delay."""
    with pytest.raises(Error) as info:
        probe.spawn("app:long_workflow", {"iterations": 1}, host=WORKER, options=SEED_OPTIONS)
    assert info.value.kind() == errors.INVALID
    assert "CronSchedule and WorkflowStartDelay may not be used together" in info.value.message()


def test_every_start_option_of_the_table_reaches_temporal(app: App, probe: Probe) -> None:
    options = {key: value for key, value in SEED_OPTIONS.items() if key != "temporal.workflow.start_delay"}
    pid = probe.spawn("app:long_workflow", {"iterations": 1}, host=WORKER, options=options)
    assert pid.uniq == "order-123"
    description = describe(app, "order-123")
    raw = description.raw_description.workflow_execution_info
    config = description.raw_description.execution_config
    assert config.workflow_execution_timeout.ToTimedelta() == timedelta(hours=24)
    assert config.workflow_run_timeout.ToTimedelta() == timedelta(hours=1)
    assert config.default_workflow_task_timeout.ToTimedelta() == timedelta(seconds=30)
    assert description.typed_search_attributes is not None
    assert {pair.key.name: pair.value for pair in description.typed_search_attributes}[
        "customer_id"
    ] == "cust-123"
    assert raw.execution_time.ToDatetime() > raw.start_time.ToDatetime()  # the cron schedule delays it

    async def started(client: Any) -> Any:
        async for event in client.get_workflow_handle("order-123").fetch_history_events():
            return event.workflow_execution_started_event_attributes

    attributes = run(app, started)
    assert attributes.cron_schedule == "0 */6 * * *"
    policy = attributes.retry_policy
    assert (policy.initial_interval.ToTimedelta(), policy.backoff_coefficient) == (timedelta(seconds=1), 2.0)
    assert (policy.maximum_interval.ToTimedelta(), policy.maximum_attempts) == (timedelta(minutes=5), 3)

    async def memo(client: Any) -> dict[str, Any]:
        return await description.memo()

    assert run(app, memo) == {"source": "api"}
    with pytest.raises(Error) as again:
        probe.spawn("app:long_workflow", {"iterations": 1}, host=WORKER, options=options)
    assert again.value.kind() == errors.ALREADY_EXISTS
    terminate(app, "order-123")
    delayed = probe.spawn(
        "app:long_workflow",
        {"iterations": 1},
        host=WORKER,
        options={"temporal.workflow.id": "delayed-1", "temporal.workflow.start_delay": "5m"},
    )
    raw = describe(app, delayed.uniq).raw_description.workflow_execution_info
    delay = raw.execution_time.ToDatetime() - raw.start_time.ToDatetime()
    assert timedelta(minutes=4, seconds=59) <= delay <= timedelta(minutes=5, seconds=1)
    terminate(app, "delayed-1")


@pytest.mark.parametrize(
    ("options", "named"),
    [
        ({"temporal.workflow.bogus": 1}, "temporal.workflow.bogus"),
        ({"temporal.workflow.execution_timeout": "soon"}, "temporal.workflow.execution_timeout"),
        ({"temporal.workflow.id_conflict_policy": "maybe"}, "temporal.workflow.id_conflict_policy"),
        (
            {"temporal.workflow.retry_policy": {"maximum_attempts": -1}},
            "temporal.workflow.retry_policy.maximum_attempts",
        ),
        ({"temporal.workflow.enable_eager_start": "yes"}, "temporal.workflow.enable_eager_start"),
    ],
)
def test_unknown_option_keys_and_bad_values_are_invalid_errors_naming_them(
    probe: Probe, options: dict[str, Any], named: str
) -> None:
    with pytest.raises(Error) as info:
        probe.spawn("app:long_workflow", {"iterations": 1}, host=WORKER, options=options)
    assert info.value.kind() == errors.INVALID
    assert named in info.value.message()


def test_start_messages_arrive_first_with_the_spawner_as_sender(app: App) -> None:
    result = drive(app, "start_messages")
    final = result["final"]
    assert final["counter"] == 7
    assert [item["amount"] for item in final["seen"]] == [2, 1, 4]
    assert {item["from"] for item in final["seen"]} == {result["me"]}


def test_start_messages_are_delivered_when_the_spawn_reuses_a_running_workflow(app: App) -> None:
    result = drive(app, "use_existing")
    assert result["same"] is True
    assert result["final"]["counter"] == 5  # {initial = 999} was ignored
    assert [item["amount"] for item in result["final"]["seen"]] == [3, 2]


def test_context_reaches_the_workflow_and_its_activities(app: App) -> None:
    result = drive(app, "with_context", {"id": "ctx-1"})
    everything = {"user_id": "user-1", "tenant": "tenant-1", "request_id": "req-abc"}
    assert (result["user_id"], result["tenant"]) == ("user-1", "tenant-1")
    assert result["all"] == everything
    assert result["in_activity"] == everything
    assert result["with_extra"] == {**everything, "step": "billing"}


def test_http_handler_pattern_starts_once_then_conflicts(app: App) -> None:
    result = drive(app, "http_twice", {"id": "http-1"})
    assert result["first"]["status"] == 202
    assert result["first"]["json"]["workflow_id"] == "{app:temporal_client@app:worker|order-http-1}"
    assert result["second"]["status"] == 409
    assert "already started" in result["second"]["json"]["error"]


# -- children ---------------------------------------------------------------------------------------


def test_async_child_reports_exit_to_its_parent(probe: Probe) -> None:
    pid = probe.spawn("app:parent_workflow", "async", host=WORKER, monitor=True)
    result = probe.expect_exit(pid).value
    assert result["from_child"] is True
    assert result["value"]["echo"] == {"message": "hello from parent"}


def test_child_error_keeps_kind_retryable_and_message(probe: Probe) -> None:
    for mode in ("error", "exec_error"):
        pid = probe.spawn("app:parent_workflow", mode, host=WORKER, monitor=True)
        assert probe.expect_exit(pid).value == {
            "kind": "NOT_FOUND",
            "retryable": False,
            "message": "order not found",
        }


def test_process_exec_of_a_child_from_a_workflow(probe: Probe) -> None:
    pid = probe.spawn("app:parent_workflow", "exec", host=WORKER, monitor=True)
    assert probe.expect_exit(pid).value["echo"] == {"name": "world"}


@pytest.mark.parametrize(
    ("policy", "status"),
    [("terminate", WorkflowExecutionStatus.TERMINATED), ("abandon", WorkflowExecutionStatus.RUNNING)],
)
def test_parent_close_policy(app: App, probe: Probe, policy: str, status: WorkflowExecutionStatus) -> None:
    child_id = f"orphan-{policy}"
    pid = probe.spawn(
        "app:parent_workflow", "orphan", {"policy": policy, "child_id": child_id}, host=WORKER, monitor=True
    )
    assert probe.expect_exit(pid).value == f"{{app:temporal_client@app:worker|{child_id}}}"
    # What the server applies now that the parent has closed: so a RUNNING child is abandoned, not
    # a child the server has not terminated yet.
    assert recorded_parent_close_policy(app, pid.uniq) == "PARENT_CLOSE_POLICY_" + policy.upper()
    wait_until(lambda: describe(app, child_id).status == status, 20, what=f"the child is {status.name}")
    if status == WorkflowExecutionStatus.RUNNING:
        terminate(app, child_id)


def recorded_parent_close_policy(app: App, parent_id: str) -> str:
    from temporalio.api.enums.v1 import EventType, ParentClosePolicy

    async def go(client: Any) -> list[str]:
        return [
            ParentClosePolicy.Name(
                event.start_child_workflow_execution_initiated_event_attributes.parent_close_policy
            )
            async for event in client.get_workflow_handle(parent_id).fetch_history_events()
            if event.event_type == EventType.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED
        ]

    [policy] = run(app, go)
    return policy


def test_parent_close_policy_request_cancel(app: App, probe: Probe) -> None:
    """The child is asked to cancel when its parent closes; one that ignores CANCEL runs on."""
    from temporalio.api.enums.v1 import EventType

    pid = probe.spawn(
        "app:parent_workflow",
        "orphan",
        {"policy": "request_cancel", "child_id": "orphan-cancel"},
        host=WORKER,
        monitor=True,
    )
    probe.expect_exit(pid)

    async def cancel_requested(client: Any) -> bool:
        async for event in client.get_workflow_handle("orphan-cancel").fetch_history_events():
            if event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CANCEL_REQUESTED:
                return True
        return False

    deadline = time.monotonic() + 20
    while not run(app, cancel_requested):
        assert time.monotonic() < deadline, "the child was never asked to cancel"
        time.sleep(0.1)
    assert describe(app, "orphan-cancel").status == WorkflowExecutionStatus.RUNNING
    terminate(app, "orphan-cancel")


# -- monitors, links, termination -----------------------------------------------------------------


def test_monitor_after_the_start(app: App) -> None:
    result = drive(app, "post_start_monitor")
    assert result == {"ok": True, "kind": "pid.exit", "from": True, "value": {"stopped_at": 1}}


def test_link_after_the_start_with_trap_links_gives_link_down_on_terminate(app: App) -> None:
    result = drive(app, "post_start_link")
    assert result == {
        "ok": True,
        "kind": "pid.link.down",
        "error_kind": "CANCELED",
        "message": "workflow terminated",
    }


def test_after_unmonitor_and_unlink_nothing_arrives(app: App) -> None:
    result = drive(app, "unmonitor_unlink")
    assert result["nothing"] is True
    ended = describe(app, PID.parse(result["pid"]).uniq)
    assert ended.status == WorkflowExecutionStatus.FAILED
    assert ended.close_time is not None and ended.close_time.timestamp() * 1e9 < result["window_end"]


def test_terminate_gives_monitors_an_exit_with_an_error(app: App) -> None:
    result = drive(app, "terminate_monitored")
    assert result == {
        "ok": True,
        "kind": "pid.exit",
        "error_kind": "CANCELED",
        "message": "workflow terminated",
        "retryable": False,
    }


def test_cancel_is_seen_by_the_workflow_which_finishes_gracefully(app: App) -> None:
    result = drive(app, "cancel_graceful")
    value = result["value"]
    assert result["ok"] is True and "error" not in result
    assert (value["saw"], value["from"], value["deadline"]) == ("pid.cancel", "{|topology}", 5.0)
    # `at` is unix seconds (a number) as in every event (spec §5), the workflow's clock
    assert isinstance(value["at"], float) and abs(value["at"] - time.time()) < 60


def test_a_workflow_ignoring_cancel_is_terminated_at_the_deadline(app: App) -> None:
    result = drive(app, "cancel_ignored")
    assert result["error"] == "workflow terminated"
    assert 1000 <= result["waited"] < 4000


def test_a_failing_linked_workflow_kills_a_process_that_does_not_trap(app: App) -> None:
    with pytest.raises(Error) as info:
        drive(app, "linked_failure")
    assert info.value.message() == "linked process failed"
    assert (info.value.details() or {})["cause"] == {"kind": "CONFLICT", "message": "told to fail"}


def test_a_failing_linked_process_fails_the_workflow(app: App, probe: Probe) -> None:
    """Links propagate failure both ways: process → workflow too."""
    workflow_pid = probe.spawn("app:long_workflow", {"iterations": 200}, host=WORKER, monitor=True)

    async def link_and_die(proc: Any, target: Any) -> None:
        proc.link(target)
        raise Error(errors.INTERNAL, "the process gave up")

    probe.spawn(link_and_die, workflow_pid)
    event = probe.expect_exit(workflow_pid)
    assert event.error is not None and event.error.message() == "linked process failed"
    assert (event.error.details() or {})["cause"] == {"kind": "INTERNAL", "message": "the process gave up"}


def test_a_workflow_that_traps_links_sees_link_down_and_runs_on(app: App, probe: Probe) -> None:
    workflow_pid = probe.spawn("app:trapping_workflow", str(probe.pid), host=WORKER, monitor=True)
    probe.expect_message("trapping")  # trap_links is set before the failure arrives

    async def link_and_die(proc: Any, target: Any) -> None:
        proc.link(target)
        raise Error(errors.INTERNAL, "the process gave up")

    failing = probe.spawn(link_and_die, workflow_pid)
    event = probe.expect_exit(workflow_pid)
    assert event.error is None
    assert event.value == {"kind": "pid.link.down", "from": str(failing), "error": "the process gave up"}


# -- determinism -------------------------------------------------------------------------------------


def test_replay_safe_operations_and_their_replay(app: App, probe: Probe, tmp_path: Path) -> None:
    pid = probe.spawn("app:safe_ops_workflow", {"id": 7}, host=WORKER, monitor=True)
    result = probe.expect_exit(pid).value
    assert result["data"] == {"id": 7, "name": "widget"}
    assert result["bytes"] == 32 and result["child"] == 1 and result["v"] == 2
    assert len(result["id"]) == 36 and 1 <= result["r"] <= 100
    assert abs(result["clock"] - time.time()) < 120
    assert abs(result["now"] / 1e9 - time.time()) < 120
    history = tmp_path / "safe.json"
    history.write_text(history_json(app, pid.uniq))
    replayed = replay(APP_DIR, [history])
    assert replayed.returncode == 0, replayed.stdout + replayed.stderr


def test_io_and_the_cpu_clock_are_refused_with_the_call_and_line(probe: Probe) -> None:
    pid = probe.spawn("app:unsafe_workflow", "io", host=WORKER, monitor=True)
    event = probe.expect_exit(pid, error_kind=errors.INTERNAL)
    assert event.error is not None
    assert event.error.message() == "unsafe_workflow.lua:4: attempt to index a nil value (global 'io')"
    pid = probe.spawn("app:unsafe_workflow", "clock", host=WORKER, monitor=True)
    event = probe.expect_exit(pid, error_kind=errors.INTERNAL)
    assert event.error is not None
    assert event.error.message().startswith("unsafe_workflow.lua:8: os.clock is not available in workflows")
    pid = probe.spawn("app:unsafe_workflow", "global", host=WORKER, monitor=True)
    assert probe.expect_exit(pid).value == 1


# -- activity errors -----------------------------------------------------------------------------------


def test_activity_errors_keep_kind_retryable_and_message_and_are_not_retried(probe: Probe) -> None:
    started = time.monotonic()
    pid = probe.spawn(
        "app:activity_errors_workflow", "risky", {"id": 1, "missing": True}, host=WORKER, monitor=True
    )
    assert probe.expect_exit(pid).value == {"kind": "NOT_FOUND", "retryable": False, "message": "no order 1"}
    assert time.monotonic() - started < 10  # a retry would wait at least a second, forever


def test_activity_runtime_error_with_maximum_attempts_1_is_internal(app: App, probe: Probe) -> None:
    pid = probe.spawn("app:activity_errors_workflow", "unreliable", {"id": 2}, host=WORKER, monitor=True)
    result = probe.expect_exit(pid).value
    assert result["kind"] == errors.INTERNAL
    assert result["message"].startswith("unreliable_activity.lua:3: attempt to index a nil value")
    history = history_json(app, pid.uniq)
    assert history.count('"attempt": 1') >= 1 and '"attempt": 2' not in history


def test_reuse_policy_task_queue_eager_start_and_child_only_options(app: App, probe: Probe) -> None:
    first = probe.spawn(
        "app:long_workflow",
        {"iterations": 1},
        host=WORKER,
        monitor=True,
        options={
            "temporal.workflow.id": "reuse-1",
            "temporal.workflow.id_reuse_policy": "reject_duplicate",
            "temporal.workflow.enable_eager_start": True,
            # Child-only options: accepted and ignored on a top-level start, as in the runtime.
            "temporal.workflow.wait_for_cancellation": True,
            "temporal.workflow.namespace": "elsewhere",
            # Durations may be milliseconds.
            "temporal.workflow.execution_timeout": 60000,
        },
    )
    assert probe.expect_exit(first).value == {"iterations": 1}
    config = describe(app, "reuse-1").raw_description.execution_config
    assert config.workflow_execution_timeout.ToTimedelta() == timedelta(minutes=1)
    with pytest.raises(Error) as rejected:
        probe.spawn(
            "app:long_workflow",
            {"iterations": 1},
            host=WORKER,
            options={
                "temporal.workflow.id": "reuse-1",
                "temporal.workflow.id_reuse_policy": "reject_duplicate",
            },
        )
    assert rejected.value.kind() == errors.ALREADY_EXISTS
    assert_starts_on_the_queue_named_by(app, probe, "workflow.task_queue", "queue-1")


def assert_starts_on_the_queue_named_by(app: App, probe: Probe, option: str, workflow_id: str) -> None:
    """A spawn whose ``option`` names another task queue starts the workflow there."""
    started = probe.spawn(
        "app:long_workflow",
        {"iterations": 1},
        host=WORKER,
        options={"temporal.workflow.id": workflow_id, option: "nobody-polls-this"},
    )
    assert describe(app, started.uniq).raw_description.execution_config.task_queue.name == "nobody-polls-this"
    terminate(app, workflow_id)


def test_conflict_and_reuse_policies_by_name(app: App, probe: Probe) -> None:
    """use_existing returns the running run; allow_duplicate starts a new run of a closed ID."""
    existing = {"temporal.workflow.id": "existing-1", "temporal.workflow.id_conflict_policy": "use_existing"}
    first = probe.spawn("app:long_workflow", {"iterations": 1000}, host=WORKER, options=existing)
    run_id = describe(app, "existing-1").run_id
    second = probe.spawn("app:long_workflow", {"iterations": 1000}, host=WORKER, options=existing)
    assert second == first and describe(app, "existing-1").run_id == run_id
    terminate(app, "existing-1")
    reuse = {"temporal.workflow.id": "existing-1", "temporal.workflow.id_reuse_policy": "allow_duplicate"}
    third = probe.spawn("app:long_workflow", {"iterations": 1}, host=WORKER, monitor=True, options=reuse)
    assert third == first and probe.expect_exit(third).value == {"iterations": 1}
    assert describe(app, "existing-1").run_id != run_id
    only_failed = {**reuse, "temporal.workflow.id_reuse_policy": "allow_duplicate_failed_only"}
    with pytest.raises(Error) as refused:  # the last run completed: not a failure
        probe.spawn("app:long_workflow", {"iterations": 1}, host=WORKER, options=only_failed)
    assert refused.value.kind() == errors.ALREADY_EXISTS
    assert_starts_on_the_queue_named_by(app, probe, "temporal.workflow.task_queue", "queue-2")


def test_terminate_existing_replaces_the_running_workflow(app: App, probe: Probe) -> None:
    options = {"temporal.workflow.id": "replace-1"}
    first = probe.spawn("app:long_workflow", {"iterations": 1000}, host=WORKER, monitor=True, options=options)
    replaced = {**options, "temporal.workflow.id_conflict_policy": "terminate_existing"}
    second = probe.spawn("app:long_workflow", {"iterations": 1000}, host=WORKER, options=replaced)
    assert second == first  # the same PID names every run of the workflow ID
    event = probe.expect_exit(first)
    assert event.error is not None and event.error.message() == "workflow terminated"
    assert describe(app, "replace-1").status == WorkflowExecutionStatus.RUNNING
    terminate(app, "replace-1")


# -- every history of this module, replayed ----------------------------------------------------------


def test_every_workflow_this_module_ran_replays_in_another_process(app: App, tmp_path: Path) -> None:
    """Last in the module: whatever ran above (children, failures, terminations, cancellations,
    continue-as-new) replays on the same code in a fresh OS process."""

    async def histories(client: Any) -> list[str]:
        found = []
        async for execution in client.list_workflows():
            handle = client.get_workflow_handle(execution.id, run_id=execution.run_id)
            found.append((await handle.fetch_history()).to_json())
        return found

    found = run(app, histories)
    assert len(found) >= 10
    assert_all_replay(APP_DIR, found, tmp_path)
