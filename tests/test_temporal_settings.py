"""Every setting of a temporal.client, a temporal.worker and a process.host works or is refused.

Refused settings are reported when the app is loaded (``actorflow check``),
with the file and line of their entry and the reason; the ones that work are
mapped to temporalio's arguments here, and checked against the real dev
server in tests/test_workflow_worker_settings.py.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

import temporal_bridge  # noqa: F401  (registers the Temporal kinds)
from actors import Error, errors
from actors.entries import AppLoadError, load_app
from temporal_bridge.settings import (
    REFUSED_WORKER_OPTIONS,
    WORKER_OPTIONS,
    HealthCheck,
    client_problems,
    keep_alive,
    worker_option_problems,
    worker_settings,
)

from .lua_support import write_app

EVERY_WORKER_OPTION: dict[str, Any] = {
    "max_concurrent_activity_execution_size": 8,
    "max_concurrent_workflow_task_execution_size": 4,
    "max_concurrent_local_activity_execution_size": 3,
    "max_concurrent_workflow_task_pollers": 2,
    "max_concurrent_activity_task_pollers": 5,
    "worker_activities_per_second": 100,
    "task_queue_activities_per_second": 50.5,
    "sticky_schedule_to_start_timeout": "2s",
    "worker_stop_timeout": "1m",
    "max_heartbeat_throttle_interval": "30s",
    "default_heartbeat_throttle_interval": "5s",
    "identity": "worker-1",
    "disable_eager_activities": True,
    "local_activity_worker_only": False,
    "deadlock_detection_timeout": "1500ms",
    "enable_logging_in_replay": True,
    "disable_workflow_worker": False,
    "disable_registration_aliasing": True,
    "use_versioning": True,
    "deployment_name": "orders",
    "build_id": "v42",
    "default_versioning_behavior": "auto_upgrade",
}


def test_every_supported_worker_option_reaches_temporalio() -> None:
    from temporalio.common import VersioningBehavior, WorkerDeploymentVersion
    from temporalio.worker import WorkerDeploymentConfig

    assert set(EVERY_WORKER_OPTION) | {
        "max_activities_per_second",
        "max_task_queue_activities_per_second",
    } == set(WORKER_OPTIONS)
    settings = worker_settings(EVERY_WORKER_OPTION)
    assert settings.kwargs == {
        "max_concurrent_activities": 8,
        "max_concurrent_workflow_tasks": 4,
        "max_concurrent_local_activities": 3,
        "max_concurrent_workflow_task_polls": 2,
        "max_concurrent_activity_task_polls": 5,
        "max_activities_per_second": 100.0,
        "max_task_queue_activities_per_second": 50.5,
        "sticky_queue_schedule_to_start_timeout": timedelta(seconds=2),
        "graceful_shutdown_timeout": timedelta(minutes=1),
        "max_heartbeat_throttle_interval": timedelta(seconds=30),
        "default_heartbeat_throttle_interval": timedelta(seconds=5),
        "identity": "worker-1",
        "disable_eager_activity_execution": True,
        "no_remote_activities": False,
        "deployment_config": WorkerDeploymentConfig(
            version=WorkerDeploymentVersion("orders", "v42"),
            use_worker_versioning=True,
            default_versioning_behavior=VersioningBehavior.AUTO_UPGRADE,
        ),
    }
    assert (settings.task_budget, settings.log_in_replay, settings.workflows) == (1.5, True, True)
    assert worker_settings({"build_id": "v1"}).kwargs == {"build_id": "v1"}  # without versioning
    assert worker_settings({"disable_workflow_worker": True}).workflows is False
    assert worker_settings({"max_activities_per_second": 3}).kwargs == {"max_activities_per_second": 3.0}


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (
            {"enable_session_worker": True},
            "worker_options.enable_session_worker is not supported: the Python SDK",
        ),
        ({"max_concurrent_session_execution_size": 4}, "is not supported: the Python SDK has no sessions"),
        ({"worker_local_activities_per_second": 5}, "no rate limit for local activities"),
        ({"bogus": 1}, "worker_options.bogus is not a worker option"),
        ({"identity": ""}, "worker_options.identity must be a non-empty string"),
        ({"max_concurrent_activity_execution_size": 0}, "must be a positive integer"),
        ({"worker_activities_per_second": "fast"}, "must be a positive number"),
        ({"worker_stop_timeout": "soon"}, "worker_options.worker_stop_timeout: invalid duration 'soon'"),
        ({"enable_logging_in_replay": "yes"}, "must be true or false"),
        ({"deadlock_detection_timeout": "5s"}, "deadlock_detection_timeout must be below 2s"),
        ({"use_versioning": True, "build_id": "v1"}, "use_versioning needs deployment_name and build_id"),
        ({"default_versioning_behavior": "pinned"}, "applies only with use_versioning: true"),
        ({"deployment_name": "orders"}, "deployment_name needs build_id"),
        (
            {
                "use_versioning": True,
                "deployment_name": "d",
                "build_id": "b",
                "default_versioning_behavior": "x",
            },
            "must be pinned or auto_upgrade",
        ),
    ],
)
def test_worker_options_that_cannot_work_are_refused_with_the_reason(
    options: dict[str, Any], message: str
) -> None:
    problems = worker_option_problems(options)
    assert len(problems) == 1 and message in problems[0], problems
    with pytest.raises(Error) as info:
        worker_settings(options)
    assert info.value.kind() == errors.INVALID


def test_a_refused_option_at_its_default_is_accepted() -> None:
    assert worker_option_problems({"enable_session_worker": False}) == []
    assert set(REFUSED_WORKER_OPTIONS) & set(WORKER_OPTIONS) == set()


def test_client_settings_unknown_or_unsupported_are_refused() -> None:
    problems = client_problems(
        {
            "adress": "localhost:7233",
            "tq_prefix": 3,
            "keep_alive_time": "0s",
            "keep_alive_timeout": "forever",
            "auth": {"type": "api_key", "api_key": "k", "token": "t"},
            "tls": {"insecure_skip_verify": True, "sni": "x"},
            "health_check": {"enabled": "yes", "interval": "-1s", "timeout": "1s"},
        }
    )
    assert problems == [
        "'adress' is not a temporal.client setting (address, auth, connection_timeout, health_check, "
        "keep_alive_time, keep_alive_timeout, lifecycle, namespace, search_attributes, server, "
        "sqlite_pragmas, tls, tq_prefix)",
        "tq_prefix must be a string",
        "keep_alive_time must be positive",
        "keep_alive_timeout: invalid duration 'forever': use units ns, us, ms, s, m, h",
        "auth.token is not an auth setting",
        "tls.sni is not a tls setting",
        "tls.insecure_skip_verify is not supported (temporalio always verifies the server): give the "
        "server's CA in tls.ca_file",
        "health_check.timeout is not a health_check setting (enabled, interval)",
        "health_check.enabled must be true or false",
        "health_check.interval must be positive",
    ]


def test_keep_alive_settings_become_temporalio_keep_alive_config() -> None:
    from temporalio.client import KeepAliveConfig

    assert keep_alive({}) == KeepAliveConfig(
        interval_millis=30_000, timeout_millis=10_000
    )  # the spec's defaults
    assert keep_alive({"keep_alive_time": "1m", "keep_alive_timeout": 2500}) == KeepAliveConfig(60_000, 2_500)


def test_every_refused_setting_is_reported_at_load_with_file_and_line(tmp_path: Path) -> None:
    write_app(
        tmp_path,
        [
            {
                "name": "processes",
                "kind": "process.host",
                "host": {"workers": 2, "queue_size": 1024, "local_queue_size": 256, "spare": 1},
                "lifecycle": {"auto_start": True, "stop_timeout": "5s", "requires": []},
                "extra": 1,
            },
            {
                "name": "client",
                "kind": "temporal.client",
                "tls": {"insecure_skip_verify": True},
                "lifecycle": {"auto_start": False},
            },
            {
                "name": "worker",
                "kind": "temporal.worker",
                "client": "client",
                "task_queue": "q",
                "worker_options": {"enable_session_worker": True},
                "lifecycle": {"auto_start": False, "stop_timeout": "5s", "restart": {"max_attempts": 2}},
                "queue": "q2",
            },
        ],
        {},
    )
    with pytest.raises(AppLoadError) as info:
        load_app(tmp_path)
    lines = sorted(str(problem) for problem in info.value.problems)
    refused_queue = "is not supported: actorflow's process host has no bounded run queue to size"
    assert lines == sorted(
        [
            "app.yaml:3: app:processes: lifecycle.stop_timeout is not supported on a process.host: hosts start "
            "first, once, and stop with the app; a process.host honours auto_start: true",
            "app.yaml:3: app:processes: lifecycle.requires is not supported on a process.host: hosts start first, "
            "once, and stop with the app; a process.host honours auto_start: true",
            "app.yaml:3: app:processes: 'extra' is not a process.host setting (host, lifecycle)",
            f"app.yaml:3: app:processes: host.queue_size {refused_queue} (a process waits in it once, however "
            "many messages its own mailbox holds)",
            f"app.yaml:3: app:processes: host.local_queue_size {refused_queue} (a process waits in it once, "
            "however many messages its own mailbox holds)",
            "app.yaml:3: app:processes: host.spare is not a process.host setting (workers, lua_threads, "
            "max_processes, max_mailbox_bytes, min_ticker_period, max_timers, max_busy)",
            "app.yaml:15: app:client: tls.insecure_skip_verify is not supported (temporalio always verifies the "
            "server): give the server's CA in tls.ca_file",
            "app.yaml:15: app:client: lifecycle.auto_start is not supported on a temporal.client: it is started "
            "once when the app starts (clients, then workers) and never restarted (the SDK reconnects by "
            "itself); a temporal.client honours auto_start: true",
            "app.yaml:21: app:worker: worker_options.enable_session_worker is not supported: the Python SDK has "
            "no sessions (pin work to one worker with its own task queue)",
            "app.yaml:21: app:worker: lifecycle.restart is not supported on a temporal.worker: it is started "
            "once when the app starts (clients, then workers) and never restarted (the SDK reconnects by "
            "itself); a temporal.worker honours auto_start, stop_timeout",
            "app.yaml:21: app:worker: 'queue' is not a temporal.worker setting (client, task_queue, "
            "worker_options, lifecycle)",
        ]
    )


def test_health_check_warns_once_when_the_server_stops_answering_and_says_when_it_is_back(
    caplog: pytest.LogCaptureFixture,
) -> None:
    answers = iter([True, False, False, True, True])

    async def check() -> bool:
        answer = next(answers)
        if answer is False:
            raise ConnectionError("connection refused")
        return True

    health = HealthCheck("app:client", check, interval=0.001)

    async def five_checks() -> None:
        task = asyncio.ensure_future(health.run())
        while health.checks < 5:
            await asyncio.sleep(0.001)
        task.cancel()

    with caplog.at_level(logging.INFO, logger="temporal_bridge.health"):
        asyncio.run(five_checks())
    assert health.healthy is True
    assert [record.getMessage() for record in caplog.records] == [
        "temporal.client app:client: health check failed: ConnectionError: connection refused",
        "temporal.client app:client: healthy again",
    ]
