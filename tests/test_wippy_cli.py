"""The actorflow command on Wippy apps: run on a project root, exec on a terminal entry
through the same exec and shutdown path as any entry (timeout, SIGINT, argument checks)."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.cli_support import ROOT, RunningApp, actorflow

from .lua_support import write_app

TERMINAL_APP = [
    {"name": "processes", "kind": "process.host"},
    {"name": "terminal", "kind": "terminal.host"},
    {"name": "main", "kind": "process.lua", "source": "file://main.lua", "modules": ["io"]},
    {"name": "helper", "kind": "function.lua", "source": "return function(x) return x end"},
]

# Reads stdin until it ends: with a pipe kept open, it waits for ever.
MAIN = """
local io = require("io")
return function(...)
  io.print("waiting for", select("#", ...), "lines")
  local count = 0
  while io.readline() do count = count + 1 end
  return count
end
"""


def exec_waiting(app: Path, *args: str, options: tuple[str, ...] = ()) -> subprocess.Popen[str]:
    """``actorflow exec`` of the terminal entry with a stdin that stays open; returns once it reads."""
    process = subprocess.Popen(
        [sys.executable, "-m", "actorflow.cli", "exec", *options, str(app), "app:main", *args],
        cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert process.stdout is not None
    assert process.stdout.readline() == f"waiting for\t{len(args)}\tlines\n"
    return process


def finished(process: subprocess.Popen[str]) -> str:
    """Its stderr once it has ended, its stdin still open (closing it would end the entry)."""
    process.wait(30)
    assert process.stderr is not None and process.stdin is not None
    err = process.stderr.read()
    process.stdin.close()
    return err


def test_exec_on_a_terminal_entry_has_the_timeout_of_any_exec(tmp_path: Path) -> None:
    app = write_app(tmp_path / "cli", TERMINAL_APP, {"main.lua": MAIN})
    began = time.monotonic()
    process = exec_waiting(app, "a b", options=("--timeout", "1"))
    err = finished(process)
    assert process.returncode == 1, err
    assert "error: TIMEOUT: process {app:terminal|" in err and "still running after 1 s: cancelled" in err
    assert time.monotonic() - began < 15
    assert "Traceback" not in err


def test_sigint_cancels_a_terminal_entry_as_any_exec(tmp_path: Path) -> None:
    app = write_app(tmp_path / "cli", TERMINAL_APP, {"main.lua": MAIN})
    process = exec_waiting(app)
    process.send_signal(signal.SIGINT)
    err = finished(process)
    assert process.returncode == 130, err
    assert "error: CANCELED: process {app:terminal|" in err and "interrupted: cancelled" in err


def test_json_arguments_of_other_entries_are_refused_before_the_app_starts(tmp_path: Path) -> None:
    app = write_app(tmp_path / "cli", TERMINAL_APP, {"main.lua": MAIN})
    refused = actorflow("exec", str(app), "app:helper", "not json")
    assert refused.returncode == 1
    assert "error: INVALID: argument 1 is not JSON (Expecting value): not json" in refused.stderr
    assert "started" not in refused.stderr  # nothing was started
    echoed = actorflow("-q", "exec", str(app), "app:helper", '{"a": [1, "é"]}')
    assert (echoed.returncode, json.loads(echoed.stdout)) == (0, {"a": [1, "é"]})
    # the terminal entry takes its arguments as strings, JSON or not, and its output is its own
    piped = subprocess.run(
        [sys.executable, "-m", "actorflow.cli", "-q", "exec", str(app), "app:main", "not json", "[1"],
        cwd=ROOT, input="x\ny\n", capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert (piped.returncode, piped.stdout) == (2, "waiting for\t2\tlines\n")


def test_run_on_a_wippy_project_root_starts_its_resources_and_stops_on_sigint(tmp_path: Path) -> None:
    project = tmp_path / "wippy_todo"
    shutil.copytree(ROOT / "examples" / "wippy_todo", project)
    with RunningApp(project, tmp_path / "state") as running:
        summary = running.summary
        for line in (
            "host         app:processes (2 workers)",
            "host         app:terminal (1 workers)",
            "service      app:store  running",
            "service      app:auditor  running",
            "database     app:db  running  (sqlite ./data/todo.db, 2 migrations applied)",
            "queue        app:notifications  running  (memory, at most 1000 messages)",
            "consumer     app:notifier  running  (app:notifications → app:notify, 2 at a time)",
            "env storage  app:defaults  running  (static)",
        ):
            assert line.split() in [row.split() for row in summary.splitlines()], summary
        rows = json.loads(running.cli("ps", "--json").stdout)
        names = {row["entry"]: row["names"] for row in rows}
        assert names["app:store_proc"] == ["todo.store"] and names["app:auditor_proc"] == ["todo.auditor"]
        tree = running.cli("tree").stdout
        assert "app:store" in tree and "app:auditor" in tree
        status, took = running.interrupt()
        assert status == 0, running.output()
        assert took < 2 + 2 + 5  # the services' stop_timeout (2 s, one level), the rest at once
    # its database is the project's: the run applied the migrations, an exec after it finds them applied
    again = subprocess.run(
        [sys.executable, "-m", "actorflow.cli", "exec", str(project), "app:cli", "--state-dir", str(tmp_path / "x")],
        cwd=ROOT, input="add tea\nlist\n", capture_output=True, text=True, timeout=90,
    )  # fmt: skip
    assert "started database app:db (sqlite ./data/todo.db, 0 migrations applied)" in again.stderr
    assert again.stdout.splitlines()[-1] == "1 open to-do", again.stdout
