"""A call's process that ends after its caller (an app shutting down) is no traceback (issue 12, defect 12).

``funcs.async`` and ``funcs.call`` run a Lua entry as a process of its own,
whose end wakes the caller.  When the caller ends first (``exec`` returned
and the app stops, or the caller was terminated), the callee ends during the
shutdown and its wake-up finds nobody: it used to raise an ``AssertionError``
in the callee's exit callback, printed as a traceback on the way out.  The
wake-up is dropped now (``LuaProcess.post``).
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest

from actorflow.app import App
from actorflow.pytest_plugin import wait_until

from .cli_support import actorflow
from .lua_support import lua_entry, write_app

FILES = {
    # Starts slow calls and returns at once: the callees are still running when exec returns.
    "main.lua": """
    local funcs = require("funcs")
    return {main = function(count)
      local futures = {}
      for i = 1, count do futures[i] = funcs.new():async("app:slow", i) end
      return #futures
    end}
    """,
    # Ends on its own a moment later, whoever waits for it.
    "slow.lua": """
    local time = require("time")
    return {main = function(i) time.sleep("50ms") return i end}
    """,
    # Never ends by itself: the app's stop ends it.
    "stuck.lua": """
    local time = require("time")
    return {main = function() while true do time.sleep("1s") end end}
    """,
    # Calls stuck and waits: terminated by the shutdown while its callee is.
    "waiter.lua": """
    local funcs = require("funcs")
    return {main = function() return funcs.new():call("app:stuck") end}
    """,
}

ENTRIES = [
    {"name": "processes", "kind": "process.host", "host": {"workers": 2}},
    lua_entry("main", modules=("funcs",)),
    lua_entry("slow", kind="function.lua", modules=("time",)),
    lua_entry("stuck", kind="function.lua", modules=("time",)),
    lua_entry("waiter", modules=("funcs",)),
]

TRACEBACK = re.compile(r"Traceback|AssertionError|Exception in|exit callback")


def test_exec_whose_calls_end_during_the_shutdown_prints_no_traceback(tmp_path: Path) -> None:
    app = write_app(tmp_path / "app", ENTRIES, FILES)
    result = actorflow("exec", str(app), "app:main", "20", "--state-dir", str(tmp_path / "state"))
    assert (result.returncode, result.stdout.strip()) == (0, "20"), result.stderr
    assert not TRACEBACK.search(result.stderr), result.stderr


def test_callers_and_callees_ended_together_by_a_stop_log_no_error(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    app_dir = write_app(tmp_path / "app", ENTRIES, FILES)
    caplog.set_level(logging.WARNING)
    with App(app_dir, extensions=[]) as app:
        node = app.node
        assert node is not None
        waiters = [app.spawn("app:waiter") for _ in range(20)]
        # Each waiter waits on its callee, a process of app:stuck: 40 processes, all running.
        wait_until(lambda: node.process_count() == 40, timeout=30, what="20 waiters and their 20 callees")
        assert app.exec("app:main", 20, timeout=30) == 20  # leaves 20 slow callees behind it
        assert all(node.is_alive(waiter) for waiter in waiters)
    # The stop ended the waiters and their callees in whatever order, and the slow calls.
    problems = [record for record in caplog.records if record.levelno >= logging.ERROR or record.exc_info]
    assert problems == [], [record.getMessage() for record in problems]
