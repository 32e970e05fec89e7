"""The rest of the workflow reference (issue 13), on the real Temporal dev server.

Updates and queries (spec §12.10) sent by temporalio's own client, by the
Python API and by the Lua ``temporal`` module; start messages and EXIT
(issue 17, item 6); ``tq_prefix``; monitors and links at the edges; what a
workflow may and may not do to other processes.  docs/workflow-features.md
maps each row of the spec's checklist to its test.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError

import temporal_bridge
from actorflow.app import App
from actorflow.pytest_plugin import running_app, temporal_environment, wait_until
from actors import Error, Probe, errors

from .replay_support import assert_all_replay

APP_DIR = Path(__file__).parent / "apps" / "workflow_ref"
WORKER = "app:worker"
pytestmark = pytest.mark.temporal("dev")


@pytest.fixture(scope="module")
def app(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[App]:
    state = tmp_path_factory.mktemp("ref-state")
    attempts: list[str] = []

    def flaky_once(argument: Any) -> Any:  # fails its first attempt (retryable), then answers
        attempts.append(argument)
        if len(attempts) == 1:
            raise Error(errors.UNAVAILABLE, "not yet", retryable=True)
        return {"attempts": len(attempts), "argument": argument}

    with running_app(
        APP_DIR,
        state_dir=state,
        temporal=temporal_environment(request),
        functions={"app:flaky_once": flaky_once},
    ) as running:
        yield running


@pytest.fixture
def probe(app: App) -> Iterator[Probe]:
    assert app.node is not None
    with Probe(app.node, trap_links=True, default_timeout=30) as probe:
        yield probe


def run(app: App, coro_factory: Any) -> Any:
    """Run ``coro_factory(client)`` on the bridge's loop with the app's own client."""
    runtime = app._started[0]
    return runtime.loop.run(coro_factory(runtime.clients["app:temporal_client"]), timeout=60)


def plain_client(app: App) -> Any:
    """``factory(coro)``: runs ``coro(client)`` with a client of temporalio's own, not the app's
    (no interceptors; only actorflow's payload converter, to read msgpack results)."""
    runtime = app._started[0]
    target = runtime.clients["app:temporal_client"].service_client.config.target_host

    def with_client(coro: Any) -> Any:
        async def go() -> Any:
            client = await Client.connect(target, data_converter=temporal_bridge.data_converter)
            return await coro(client)

        return runtime.loop.run(go(), timeout=60)

    return with_client


def history_events(app: App, workflow_id: str) -> list[str]:
    from temporalio.api.enums.v1 import EventType

    async def go(client: Any) -> list[str]:
        return [
            EventType.Name(event.event_type)
            async for event in client.get_workflow_handle(workflow_id).fetch_history_events()
        ]

    return run(app, go)


def drive(app: App, mode: str, *args: Any) -> Any:
    return app.exec("app:driver", mode, *args, timeout=60)


def failure_of(info: pytest.ExceptionInfo[WorkflowUpdateFailedError]) -> ApplicationError:
    cause = info.value.cause
    assert isinstance(cause, ApplicationError), cause
    return cause


# -- updates and queries (spec §12.10) -------------------------------------------------------------


def test_seed_counter_serves_updates_from_a_temporal_client_and_signals_from_processes(
    app: App, probe: Probe
) -> None:
    """Seed 003's counter, unchanged: ack/ok replies complete an update, nak rejects it."""
    pid = probe.spawn("app:counter_workflow", {"initial": 10}, host=WORKER, monitor=True)
    with_client = plain_client(app)

    async def updates(client: Any) -> list[Any]:
        handle = client.get_workflow_handle(pid.uniq)
        results: list[Any] = [await handle.execute_update("increment", {"amount": 5})]
        for name, argument in (("increment", {"amount": "x"}), ("decrement", {"amount": 100})):
            try:
                await handle.execute_update(name, argument)
            except WorkflowUpdateFailedError as failed:
                results.append((failed.cause.type, failed.cause.message))  # type: ignore[attr-defined]
        results.append(await handle.query("pid"))
        results.append(await handle.query("state"))
        return results

    assert with_client(updates) == [
        {"value": 15},
        (errors.INVALID, "amount must be a number"),
        (errors.INVALID, "would result in negative value"),
        pid.uniq,
        {},
    ]
    # The same code serves a process's signal: the replies come back as messages.
    probe.send(pid, "decrement", {"amount": 3})
    assert probe.expect_message("ack").sender == pid
    assert probe.expect_message("ok").payload == {"value": 12}
    probe.send(pid, "decrement", {"amount": 50})
    assert probe.expect_message("nak").payload == "would result in negative value"
    assert temporal_bridge.update(app.node, pid, "finish") == {"message": "finishing"}
    assert probe.expect_exit(pid).value == {"final_counter": 12}
    # A nak before ack is a rejection: no trace in the history; the accepted ones are there.
    events = history_events(app, pid.uniq)
    assert events.count("EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED") == 2
    assert events.count("EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED") == 2


def test_an_update_arrives_as_a_message_from_an_update_pid(app: App, probe: Probe) -> None:
    pid = probe.spawn("app:echo_sender_workflow", host=WORKER, monitor=True)

    async def update(client: Any) -> Any:
        return await client.get_workflow_handle(pid.uniq).execute_update("who", 1, id="upd|{1}")

    assert plain_client(app)(update) == {"from": "{update|upd%7C%7B1%7D}", "topic": "who", "data": 1}
    probe.send(pid, "stop")
    probe.expect_exit(pid)


def test_updates_whose_first_round_leaves_a_trace(app: App, probe: Probe) -> None:
    """Timers, activities, randomness, new subscriptions before the reply: accepted, then completed."""
    pid = probe.spawn("app:update_workflow", host=WORKER, monitor=True)
    node = app.node
    assert temporal_bridge.update(node, pid, "slow") == {"slept": True, "generation": 1}
    assert temporal_bridge.update(node, pid, "call", 21) == 42  # funcs.call before the reply
    with pytest.raises(Error) as refused:  # the activity's error, sent back with nak
        temporal_bridge.update(node, pid, "call", "x")
    assert (refused.value.kind(), refused.value.message()) == (errors.INVALID, "not a number")
    for name, message in (("traced_nak", "changed my mind"), ("random_nak", "rolled ")):
        with pytest.raises(Error) as failed:
            temporal_bridge.update(node, pid, name)
        assert failed.value.kind() == errors.INVALID and failed.value.message().startswith(message)
    with pytest.raises(Error) as busy:
        temporal_bridge.update(node, pid, "fail")
    assert (busy.value.kind(), busy.value.message(), busy.value.retryable()) == (
        errors.CONFLICT,
        "busy",
        False,
    )
    events = history_events(app, pid.uniq)
    # slow, call, call, traced_nak, random_nak, fail: each accepted (a nak after a trace fails it)
    assert events.count("EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED") == 6
    # process.upgrade from an update: continue-as-new, the same PID serves the next run
    assert temporal_bridge.update(node, pid, "upgrade") == {"upgrading_from": 1}
    assert temporal_bridge.update(node, pid, "slow") == {"slept": True, "generation": 2}
    assert temporal_bridge.query(node, pid, "pid") == pid.uniq
    assert temporal_bridge.update(node, pid, "stop") == {"generation": 2}
    assert probe.expect_exit(pid).value == {"generation": 2}


def test_updates_and_queries_that_cannot_be_served(app: App, probe: Probe) -> None:
    pid = probe.spawn("app:update_workflow", host=WORKER, monitor=True)
    node = app.node
    with pytest.raises(Error) as reserved:
        temporal_bridge.update(node, pid, "@pid/inbox")
    assert reserved.value.kind() == errors.INVALID
    with pytest.raises(Error) as unknown:
        temporal_bridge.query(node, pid, "nope")
    assert unknown.value.kind() == errors.NOT_FOUND and "pid, state" in unknown.value.message()
    with pytest.raises(Error) as missing:
        temporal_bridge.update(node, "{app:temporal_client@app:worker|no-such-workflow}", "slow")
    assert missing.value.kind() == errors.NOT_FOUND
    with pytest.raises(Error) as not_workflow:
        temporal_bridge.update(node, probe.pid, "slow")
    assert not_workflow.value.kind() == errors.INVALID
    assert temporal_bridge.update(node, pid, "stop") == {"generation": 1}
    probe.expect_exit(pid)
    # A closed workflow still answers queries (Temporal replays it to ask).
    assert temporal_bridge.query(node, pid, "state") == {}
    with pytest.raises(Error) as closed:
        temporal_bridge.update(node, pid, "slow")
    assert closed.value.kind() == errors.NOT_FOUND


def test_updates_and_queries_from_lua(app: App, probe: Probe) -> None:
    pid = probe.spawn("app:counter_workflow", {"initial": 1}, host=WORKER, monitor=True)
    result = drive(app, "lua_updates", str(pid))
    assert result["value"] == {"value": 3} and result.get("err") is None
    assert result["nak"] == {"kind": errors.INVALID, "message": "amount must be a number"}
    assert (result["workflow_id"], result["state"]) == (pid.uniq, {})
    assert result["unknown_query"]["kind"] == errors.NOT_FOUND
    assert result["unknown_workflow"]["kind"] == errors.NOT_FOUND
    assert result["not_a_workflow"]["kind"] == errors.INVALID
    probe.send(pid, "finish")
    assert probe.expect_exit(pid).value == {"final_counter": 3}


# -- start messages and EXIT (issue 17, item 6) ---------------------------------------------------


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"temporal.workflow.id": "start-messages-explicit"},
        {
            "temporal.workflow.id": "start-messages-existing",
            "temporal.workflow.id_conflict_policy": "use_existing",
        },
    ],
    ids=["generated-id", "explicit-id", "use-existing"],
)
def test_the_exit_of_a_workflow_started_with_messages_carries_its_result(
    app: App, options: dict[str, Any]
) -> None:
    result = drive(app, "start_messages_exit", options)
    assert result["replies"] == ["ack", "ok", "ack", "ok"]
    assert (result["kind"], result["from"], result.get("error")) == ("pid.exit", True, None)
    assert result["value"] == {"final_counter": 6}


def test_wippy_start_messages_reaching_an_existing_workflow_are_all_applied(app: App) -> None:
    """Wippy's own test (startup_messages_explicit_id_use_existing.lua), as its authors wrote it."""
    result = drive(app, "wippy_use_existing", "wippy-use-existing")
    assert result["same"] is True and result.get("error") is None
    assert result["value"]["final_counter"] == 5
    assert result["value"]["updates_processed"] == 2


# -- workflow IDs any text, sends never dropped (issue 13, item 6) ---------------------------------


def test_a_workflow_id_made_from_a_pid_round_trips_and_unroutable_sends_are_errors(app: App) -> None:
    result = drive(app, "custom_id")
    assert result["id"].startswith("counter-{app:processes|0x")
    assert (
        result["pid"]
        == "{app:temporal_client@app:worker|"
        + result["id"].replace("|", "%7C").replace("{", "%7B").replace("}", "%7D")
        + "}"
    )
    assert (result["sent"], result.get("send_err")) == (True, None)
    assert result["replies"] == ["ack", "ok", "ack"] and result["from_is_pid"] is True
    assert result["value"] == {"value": 2} and result["exit"] == {"final_counter": 2}
    assert (result["unknown_host"], result["unknown_node"], result["unknown_workflow"]) == (
        errors.NOT_FOUND,
        errors.NOT_FOUND,
        errors.NOT_FOUND,
    )


def test_sends_a_workflow_cannot_deliver_are_errors(probe: Probe) -> None:
    pid = probe.spawn("app:send_errors_workflow", host=WORKER, monitor=True)
    assert probe.expect_exit(pid).value == {
        "unknown_host": errors.NOT_FOUND,
        "unknown_node": errors.NOT_FOUND,
        "unknown_name": errors.NOT_FOUND,
        "unknown_workflow": errors.NOT_FOUND,
    }


# -- behaviour that works, now guarded (issue 13, item 7) ------------------------------------------


def test_tq_prefix_is_prepended_to_every_workers_task_queue(app: App, probe: Probe) -> None:
    runtime = app._started[0]
    assert {worker_id: worker.config()["task_queue"] for worker_id, worker in runtime.workers.items()} == {
        "app:worker": "ref-main",
        "app:acts": "ref-acts",
    }
    pid = probe.spawn("app:self_send_workflow", host=WORKER, monitor=True)
    probe.expect_exit(pid)

    async def started_on(client: Any) -> str:
        async for event in client.get_workflow_handle(pid.uniq).fetch_history_events():
            return str(event.workflow_execution_started_event_attributes.task_queue.name)
        return ""

    assert run(app, started_on) == "ref-main"


def test_a_workflow_sending_to_itself_gets_the_message(probe: Probe) -> None:
    pid = probe.spawn("app:self_send_workflow", host=WORKER, monitor=True)
    assert probe.expect_exit(pid).value == {"ok": True, "data": {"n": 1}, "from_self": True}
    # A generated workflow ID: a UUID chosen when the worker started, then a counter (spec §2).
    assert re.fullmatch(r"[0-9a-f-]{36}_0x[0-9a-f]{5,}", pid.uniq), pid.uniq


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


# -- settings: each reaches temporalio (tests/test_temporal_settings.py: the refused ones) -----------


def test_client_settings_keep_alive_and_health_check_work(app: App) -> None:
    from temporalio.client import KeepAliveConfig

    runtime = app._started[0]
    client = runtime.clients["app:temporal_client"]
    assert client.service_client.config.keep_alive_config == KeepAliveConfig(20_000, 5_000)
    health = runtime.health["app:temporal_client"]
    wait_until(lambda: health.checks >= 2, 10, what="two health checks (every 200 ms)")
    assert health.healthy is True


def test_worker_options_reach_the_worker(app: App, probe: Probe) -> None:
    from temporalio.common import WorkerDeploymentVersion

    runtime = app._started[0]
    config = runtime.workers["app:worker"].config()
    assert (config["identity"], config["build_id"]) == ("ref-worker@tests", "ref-build-1")
    assert (config["max_concurrent_activities"], config["max_concurrent_workflow_task_polls"]) == (8, 2)
    assert config["sticky_queue_schedule_to_start_timeout"].total_seconds() == 3
    assert config["graceful_shutdown_timeout"].total_seconds() == 2
    assert config["default_heartbeat_throttle_interval"].total_seconds() == 10
    assert runtime._stop_timeouts["app:worker"] == 20  # lifecycle.stop_timeout
    assert runtime.workers["app:acts"].config()["workflows"] == []  # disable_workflow_worker
    assert not isinstance(config.get("deployment_config"), WorkerDeploymentVersion)
    # The identity is what the server records for the tasks this worker runs.
    pid = probe.spawn("app:logging_workflow", "hello", host=WORKER, monitor=True)
    assert probe.expect_exit(pid).value == "hello"

    async def identities(client: Any) -> set[str]:
        return {
            event.workflow_task_started_event_attributes.identity
            async for event in client.get_workflow_handle(pid.uniq).fetch_history_events()
            if event.HasField("workflow_task_started_event_attributes")
        }

    assert run(app, identities) == {"ref-worker@tests"}


def test_deadlock_detection_timeout_is_the_lua_watchdogs_budget(app: App, probe: Probe) -> None:
    pid = probe.spawn("app:busy_workflow", host=WORKER)

    async def failures(client: Any) -> list[str]:
        return [
            event.workflow_task_failed_event_attributes.failure.message
            async for event in client.get_workflow_handle(pid.uniq).fetch_history_events()
            if event.HasField("workflow_task_failed_event_attributes")
        ]

    found = wait_until(lambda: run(app, failures), 30, what="the busy workflow's task failed")
    assert "its Lua code ran 1.0 s without waiting" in found[0]

    async def terminate(client: Any) -> None:
        await client.get_workflow_handle(pid.uniq).terminate()

    run(app, terminate)


def test_enable_logging_in_replay_logs_while_a_history_replays(
    app: App, probe: Probe, caplog: pytest.LogCaptureFixture
) -> None:
    from temporalio.worker import Replayer

    from temporal_bridge.interceptors import ActorflowInterceptor
    from temporal_bridge.runtime import workflow_runner
    from temporal_bridge.workflow import LuaWorkflow

    pid = probe.spawn("app:logging_workflow", "from the first run", host=WORKER, monitor=True)
    probe.expect_exit(pid)

    async def replay(client: Any) -> None:
        history = await client.get_workflow_handle(pid.uniq).fetch_history()
        replayer = Replayer(
            workflows=[LuaWorkflow],
            workflow_runner=workflow_runner(),
            data_converter=temporal_bridge.data_converter,
            interceptors=[ActorflowInterceptor()],
        )
        await replayer.replay_workflow(history)

    with caplog.at_level(logging.INFO, logger="temporalio.workflow"):
        run(app, replay)
    assert any("logging workflow says from the first run" in r.getMessage() for r in caplog.records)


# -- every history of this module, replayed ----------------------------------------------------------


def test_every_workflow_this_module_ran_replays_in_another_process(app: App, tmp_path: Path) -> None:
    """Last in the module: updates (accepted, rejected, parked), continue-as-new, start messages."""

    async def histories(client: Any) -> list[str]:
        found = []
        async for execution in client.list_workflows():
            handle = client.get_workflow_handle(execution.id, run_id=execution.run_id)
            found.append((await handle.fetch_history()).to_json())
        return found

    found = run(app, histories)
    assert len(found) >= 8
    assert_all_replay(APP_DIR, found, tmp_path)
