"""The Wippy-written app of ``tests/apps/wippy_compat``, started for the ``test_wippy_*`` files.

The Lua files there are written the way Wippy code is (its errors, calls and
modules, with assert helpers as a Wippy test library gives them); the same
files run as process.lua entries on the host and as workflow.lua entries on
the real Temporal dev server.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from actorflow.app import App
from actorflow.pytest_plugin import running_app, temporal_environment
from actors import PID, Probe

from .replay_support import replay

APP_DIR = Path(__file__).parent / "apps" / "wippy_compat"
WORKER = "app:worker"
HOST = "app:processes"


@contextmanager
def compat_app(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[App]:
    """The app, running on the Temporal environment ``request`` asks for (a module fixture's)."""
    state = tmp_path_factory.mktemp("compat-state")
    with running_app(APP_DIR, state_dir=state, temporal=temporal_environment(request)) as running:
        yield running


@contextmanager
def compat_probe(app: App) -> Iterator[Probe]:
    """A probe on the app's node that traps links (30 s to wait for what it expects)."""
    assert app.node is not None
    with Probe(app.node, trap_links=True, default_timeout=30) as probe:
        yield probe


def history(app: App, pid: PID) -> str:
    runtime = app._started[0]

    async def fetch(client: Any) -> str:
        return (await client.get_workflow_handle(pid.uniq).fetch_history()).to_json()

    return runtime.loop.run(fetch(runtime.clients["app:temporal_client"]), timeout=60)


def assert_replays(app: App, pid: PID, directory: Path, text: str | None = None) -> None:
    path = directory / f"{pid.uniq}.json"
    path.write_text(text if text is not None else history(app, pid))
    replayed = replay(APP_DIR, [path])
    assert replayed.returncode == 0, replayed.stdout + replayed.stderr
    assert "replayed 1 histories, 0 failed" in replayed.stdout


def ended_process(probe: Probe) -> PID:
    pid = probe.spawn("app:double", 1, host=HOST, monitor=True)
    assert probe.expect_exit(pid).value == 2
    return pid
