"""Under the time-skipping test server, time skips only while no workflow task is in flight.

The server counts one global lock: every workflow task holds it from its
schedule to its completion, and a client waiting for a result unlocks it
(``unlock_time_skipping``) for as long as it waits.  One unlock *per waiter*
cancelled the locks of workflow tasks still running: with eight workflows
started together (each watched by its starter), time jumped past their
task timeouts and the 10-year default run timeout, and they ended "Workflow
timed out" before their first task completed.  The waiters of a
``TemporalPeer`` now share one unlock.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from actorflow.app import App

from .lua_support import write_app

pytestmark = pytest.mark.temporal("time-skipping")

WORKFLOW = {"temporal": {"workflow": {"worker": "app:worker"}}}
ENTRIES = [
    {"name": "processes", "kind": "process.host"},
    {"name": "temporal_client", "kind": "temporal.client", "server": "time_skipping"},
    {"name": "worker", "kind": "temporal.worker", "client": "app:temporal_client", "task_queue": "skip"},
    {"name": "quick", "kind": "workflow.lua", "source": "file://quick.lua", "meta": WORKFLOW},
    {
        "name": "sleeper",
        "kind": "workflow.lua",
        "source": "file://sleeper.lua",
        "modules": ["time"],
        "meta": WORKFLOW,
    },
]
FILES = {
    "quick.lua": "return function(x) return x + 1 end\n",
    "sleeper.lua": """
        local time = require("time")
        return function(hours)
          local start = time.now()
          time.sleep(hours .. "h")
          return math.floor(time.now():sub(start):hours())
        end
    """,
}


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[App]:
    app_dir = write_app(tmp_path_factory.mktemp("skip"), ENTRIES, FILES)
    with App(app_dir, state_dir=tmp_path_factory.mktemp("skip-state")) as running:
        yield running


def run_together(app: App, starts: list[tuple[str, tuple[Any, ...]]]) -> list[tuple[Any, str | None]]:
    """Start every workflow at once, each watched by its start; their outcomes in start order."""
    outcomes: dict[int, tuple[Any, str | None]] = {}
    ended = threading.Condition()
    for index, (entry, args) in enumerate(starts):

        def on_exit(value: Any, error: Any, index: int = index) -> None:
            with ended:
                outcomes[index] = (value, None if error is None else f"{error.kind()}: {error.message()}")
                ended.notify_all()

        app.start_entry(entry, args, "app:worker", on_exit)
    with ended:
        assert ended.wait_for(lambda: len(outcomes) == len(starts), timeout=90), outcomes
    return [outcomes[index] for index in range(len(starts))]


def test_workflows_started_together_all_run_their_tasks(app: App) -> None:
    assert run_together(app, [("app:quick", (n,)) for n in range(8)]) == [(n + 1, None) for n in range(8)]


def test_time_still_skips_while_the_workflows_wait(app: App) -> None:
    began = time.monotonic()
    outcomes = run_together(app, [("app:sleeper", (5,)), *[("app:quick", (n,)) for n in range(4)]])
    assert outcomes == [(5, None), *[(n + 1, None) for n in range(4)]]
    assert time.monotonic() - began < 60  # five hours of workflow time
