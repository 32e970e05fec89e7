"""Client and worker settings reach temporalio (tests/test_temporal_settings.py: the refused ones).

``tq_prefix`` is prepended to every worker's task queue; keep-alive and the
health check of a client work; worker options (identity, build ID,
concurrency, timeouts) reach the worker; the deadlock detection timeout is
the Lua watchdog's budget; ``enable_logging_in_replay`` logs while a
history replays.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest

import temporal_bridge
from actorflow.app import App
from actorflow.pytest_plugin import wait_until
from actors import Probe

from .workflow_ref_support import (
    WORKER,
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
