"""terminal.host and io: `actorflow exec` on such an entry behaves like `wippy run -x`."""

from __future__ import annotations

import io as pyio
import subprocess
import sys
from pathlib import Path

import pytest

import wippy_compat
from actorflow.app import App
from wippy_compat.terminal import Terminal, run_on_terminal

from .lua_support import write_app

HOSTS = [
    {"name": "processes", "kind": "process.host", "host": {"workers": 2}},
    {"name": "terminal", "kind": "terminal.host"},
]

CLI = """\
local io = require("io")
local function main(...): integer
  local args = {...}
  io.print("args:", table.concat(io.args(), ","), #args)
  io.write("name? ")
  local lines = 0
  while true do
    local line = io.readline()
    if not line then break end
    lines = lines + 1
    io.print("hello", line)
    io.eprint("seen", lines)
  end
  return lines + 40
end
local function elsewhere()
  local ok, err = io.print("x")
  local data, read_err = io.readline()
  return {ok == nil, err:kind(), data == nil, read_err:kind(), #io.args()}
end
local function quit()
  require("system").exit(7)
  io.print("not printed")
  return 0
end
local function fail()
  error("the terminal process failed")
end
return {main = main, elsewhere = elsewhere, quit = quit, fail = fail}
"""


def terminal_app(root: Path) -> Path:
    entries = [
        *HOSTS,
        *(
            {
                "name": name,
                "kind": "process.lua",
                "source": "file://cli.lua",
                "method": name,
                "modules": ["io", "system"],
            }
            for name in ("main", "elsewhere", "quit", "fail")
        ),
        {
            "name": "helper",
            "kind": "function.lua",
            "source": "file://cli.lua",
            "method": "elsewhere",
            "modules": ["io"],
        },
    ]
    return write_app(root, entries, {"cli.lua": CLI})


def actorflow(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "actorflow.cli", "-q", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_exec_on_a_terminal_entry_reads_a_pipe_writes_stdio_and_exits_with_the_result(tmp_path: Path) -> None:
    app_dir = terminal_app(tmp_path)
    done = actorflow("exec", str(app_dir), "app:main", "one", "two", stdin="ada\nbob\n")
    assert done.stdout == "args:\tone,two\t2\nname? hello\tada\nhello\tbob\n"
    assert "seen\t1\nseen\t2\n" in done.stderr
    assert done.returncode == 42


def test_system_exit_sets_the_status_and_an_error_is_reported(tmp_path: Path) -> None:
    app_dir = terminal_app(tmp_path)
    quit_run = actorflow("exec", str(app_dir), "app:quit")
    assert quit_run.returncode == 7 and quit_run.stdout == ""
    failed = actorflow("exec", str(app_dir), "app:fail")
    assert failed.returncode == 1
    assert "error: INTERNAL: cli.lua:27: the terminal process failed" in failed.stderr


def test_io_elsewhere_is_permission_denied(tmp_path: Path) -> None:
    app_dir = terminal_app(tmp_path)
    with App(app_dir, extensions=[wippy_compat.install]) as app:
        on_host = app.exec("app:elsewhere", host="app:processes", timeout=10)
        # a function called on the terminal host is not the terminal's process either
        as_function = app.exec("app:helper", host="app:terminal", timeout=10)
    assert on_host == [True, "PERMISSION_DENIED", True, "PERMISSION_DENIED", 0]
    assert as_function == on_host


def test_run_on_terminal_with_streams_of_our_own(tmp_path: Path) -> None:
    """In-process (tests, embedding): the terminal's streams are any binary files."""
    app_dir = terminal_app(tmp_path)
    stdout, stderr = pyio.BytesIO(), pyio.BytesIO()
    terminal = Terminal(stdin=pyio.BytesIO(b"x\r\n"), stdout=stdout, stderr=stderr)
    with App(app_dir, extensions=[wippy_compat.install]) as app:
        status = run_on_terminal(app, "app:main", "app:terminal", ["a"], timeout=10, terminal=terminal)
    assert status == 41
    assert stdout.getvalue() == b"args:\ta\t1\nname? hello\tx\n"
    assert stderr.getvalue() == b"seen\t1\n"


def test_a_terminal_reader_does_not_hold_the_other_processes(tmp_path: Path) -> None:
    """io.readline waits in a thread: a process on the same one-worker host runs meanwhile."""
    app_dir = write_app(
        tmp_path,
        [
            *HOSTS,
            {"name": "main", "kind": "process.lua", "source": "file://main.lua", "modules": ["io"]},
            {"name": "ping", "kind": "process.lua", "source": "file://ping.lua"},
        ],
        {
            "main.lua": """
local io = require("io")
return function()
  local pid = process.spawn("app:ping", "app:terminal", process.pid())
  local line = io.readline()             -- stdin below says "go" only after pong arrived
  local msg = process.inbox():receive()
  return line .. ":" .. msg:payload():data()
end
""",
            "ping.lua": """
return function(parent) process.send(parent, "pong", "pong") end
""",
        },
    )

    class SlowStdin(pyio.RawIOBase):
        """A stdin that answers only after the ping process has run."""

        def __init__(self, app: App) -> None:
            self.app = app

        def readable(self) -> bool:
            return True

        def readline(self, size: int = -1) -> bytes:  # type: ignore[override]
            from actorflow.pytest_plugin import wait_until

            wait_until(lambda: self.app.node.process_count() <= 1, timeout=10)
            return b"go\n"

    with App(app_dir, extensions=[wippy_compat.install]) as app:
        terminal = Terminal(stdin=SlowStdin(app), stdout=pyio.BytesIO(), stderr=pyio.BytesIO())  # type: ignore[arg-type]
        status = run_on_terminal(app, "app:main", "app:terminal", [], timeout=20, terminal=terminal)
    assert status == 0  # a string result is no status


@pytest.mark.parametrize("entry", ["app:main"])
def test_an_explicit_host_runs_the_entry_as_any_other(tmp_path: Path, entry: str) -> None:
    app_dir = terminal_app(tmp_path)
    done = actorflow("exec", "--host", "app:processes", str(app_dir), "app:elsewhere")
    assert done.returncode == 0
    assert done.stdout.strip() == '[true, "PERMISSION_DENIED", true, "PERMISSION_DENIED", 0]'
