"""``actorflow update`` and ``actorflow query`` against a running app (issue 13, item 1).

The seed's counter (examples/counter) runs under ``actorflow run``; the
commands reach it through the control socket as Temporal updates and
queries: the same code that answers ``actorflow send``'s messages answers them.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .cli_support import ROOT, RunningApp, wait_for

pytestmark = pytest.mark.temporal("dev")

COUNTER = ROOT / "examples" / "counter"


def test_updates_and_queries_from_the_command_line(tmp_path: Path) -> None:
    with RunningApp(COUNTER, tmp_path / "state") as running:
        wait_for(lambda: "counter started" in "".join(running.stderr), timeout=30)
        # The start messages added 2 + 1 + 4; an update's "ok" reply is printed.
        added = running.cli("update", "counter-workflow", "increment", '{"amount": 5}')
        assert (added.returncode, added.stdout.strip()) == (0, '{"value": 12}'), added.stderr
        refused = running.cli("update", "counter-workflow", "decrement", '{"amount": 100}')
        assert refused.returncode == 1
        assert refused.stderr.strip() == "error: INVALID: would result in negative value"
        pid = "{app:temporal_client@app:worker|counter-workflow}"
        asked = running.cli("query", pid, "pid", "--json")
        assert json.loads(asked.stdout) == {"to": pid, "value": "counter-workflow"}
        assert running.cli("query", "counter-workflow", "state").stdout.strip() == "{}"
        unknown = running.cli("query", "counter-workflow", "nope")
        assert unknown.returncode == 1 and unknown.stderr.startswith("error: NOT_FOUND: unknown query 'nope'")
        finished = running.cli("update", "counter-workflow", "finish")
        assert finished.stdout.strip() == '{"message": "finishing"}'
        status, _took = running.interrupt()
    assert status == 0, running.output()
