"""The app of ``tests/apps/workflow_ref``, started for the workflow reference test files.

The app covers the rest of the workflow reference (issue 13): updates and
queries, start messages, workflow IDs, processes and workflows linked or
monitored, activities as entries declare them, client and worker settings.
Each ``test_workflow_*`` file that uses it starts it on its own embedded dev
server, so "every workflow this module ran" is what that server lists.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import Client

import temporal_bridge
from actorflow.app import App
from actorflow.pytest_plugin import running_app, temporal_environment
from actors import Error, Probe, errors

from .replay_support import assert_all_replay

APP_DIR = Path(__file__).parent / "apps" / "workflow_ref"
WORKER = "app:worker"


@contextmanager
def ref_app(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[App]:
    """The app on the Temporal environment ``request`` asks for, with the Python function
    ``app:flaky_once`` (fails its first attempt, retryable, then answers)."""
    state = tmp_path_factory.mktemp("ref-state")
    attempts: list[str] = []

    def flaky_once(argument: Any) -> Any:
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


@contextmanager
def ref_probe(app: App) -> Iterator[Probe]:
    """A probe on the app's node that traps links (30 s to wait for what it expects)."""
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


def assert_every_workflow_replays(app: App, directory: Path, at_least: int) -> None:
    """Every workflow the app's server ran (each run of each), replayed in another process."""

    async def histories(client: Any) -> list[str]:
        found = []
        async for execution in client.list_workflows():
            handle = client.get_workflow_handle(execution.id, run_id=execution.run_id)
            found.append((await handle.fetch_history()).to_json())
        return found

    found = run(app, histories)
    assert len(found) >= at_least
    assert_all_replay(APP_DIR, found, directory)
