"""``actorflow exec --timeout`` on a workflow that never waits returns in time (issue 12, defect 7).

A busy loop in a workflow used to make ``exec`` hang forever despite
``--timeout``, both cores at 100 % and a traceback at shutdown.  Now the
workflow's Lua is stopped after 1.5 s without waiting (its workflow task
fails and is retried: ``tests/test_workflow_busy_loop.py``), the timeout
cancels the workflow, and ``exec`` ends with the documented exit status 1 and
one ``error: TIMEOUT: …`` line, the app stopped.
"""

from __future__ import annotations

import time
from pathlib import Path

from .cli_support import actorflow
from .lua_support import write_app

WORKFLOW = {"temporal": {"workflow": {"worker": "app:worker"}}}
ENTRIES = [
    {"name": "processes", "kind": "process.host"},
    {"name": "temporal_client", "kind": "temporal.client"},
    {"name": "worker", "kind": "temporal.worker", "client": "app:temporal_client", "task_queue": "busy"},
    {"name": "busy", "kind": "workflow.lua", "source": "file://busy.lua", "meta": WORKFLOW},
]
FILES = {"busy.lua": "return function() local n = 0 while true do n = n + 1 end end\n"}

TIMEOUT = 3
BOUND = 60.0
"""Seconds: the embedded server's start and stop, the timeout, the cancel's wait (5 s) and room."""


def test_exec_timeout_returns_on_a_workflow_that_never_waits(tmp_path: Path) -> None:
    app = write_app(tmp_path / "app", ENTRIES, FILES)
    began = time.monotonic()
    result = actorflow(
        "exec", str(app), "app:busy", "--timeout", str(TIMEOUT), "--state-dir", str(tmp_path / "state"),
        timeout=BOUND + 60,
    )  # fmt: skip
    took = time.monotonic() - began
    assert result.returncode == 1, result.stderr
    assert took < BOUND, f"exec took {took:.1f} s"
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, result.stderr
    assert errors[0].startswith("error: TIMEOUT: workflow {app:temporal_client@app:worker|"), errors
    assert f"still running after {TIMEOUT} s: cancel" in errors[0], errors
    assert "Traceback" not in result.stderr, result.stderr
    assert result.stdout == ""
