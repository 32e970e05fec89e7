"""Regression (issue 12, defect 9): one Lua loop that never waits stalls every process of its thread.

Lua cannot be preempted (a Lua hook cannot yield), so a loop that never waits
held its thread, every process sharing it, and with the CLI the whole host (0
of 20 trivial execs finished).  The watchdog, which already asked every million
instructions whether the process had been terminated, now also ends a process
that has run ``max_busy`` seconds without waiting while other processes wait
for its thread: ``LIMIT_EXCEEDED``, saying so.  Alone on its thread, a long
computation runs to its end.
"""

from __future__ import annotations

import time
from pathlib import Path

from actorflow.app import App
from actorflow.pytest_plugin import wait_until
from actors import Probe, errors

from .lua_support import lua_entry, write_app

SOURCES = {
    "spin.lua": """
    return {main = function()
      local n = 0
      while true do n = n + 1 end
    end}
    """,
    "compute.lua": """
    return {main = function(rounds)
      local n = 0
      for i = 1, rounds do n = n + i % 7 end
      return n
    end}
    """,
    "trivial.lua": """
    return {main = function(i) return i * 2 end}
    """,
    "spin_at_load.lua": """
    local n = 0
    while true do n = n + 1 end  -- at the file's top level: runs before main exists
    return {main = function() return n end}
    """,
}


def host(**limits: object) -> dict[str, object]:
    return {"name": "processes", "kind": "process.host", "host": {"workers": 2, **limits}}


def test_a_loop_that_never_waits_is_ended_and_the_other_processes_run(tmp_path: Path) -> None:
    entries = [host(max_busy="300ms"), lua_entry("spin"), lua_entry("trivial")]
    with App(write_app(tmp_path, entries, SOURCES), extensions=[]) as app:
        assert app.node is not None
        with Probe(app.node, default_timeout=10) as probe:
            spinner = probe.spawn("app:spin", monitor=True)  # first in the Lua thread's queue
            started = time.monotonic()
            results = [app.exec("app:trivial", i, timeout=10) for i in range(20)]
            elapsed = time.monotonic() - started
            ended = probe.expect_exit(spinner, error_kind=errors.LIMIT_EXCEEDED)
    assert results == [i * 2 for i in range(20)]  # 20 of 20 finished
    assert elapsed < 5
    assert ended.error is not None
    assert (
        "without waiting while other processes waited for its thread (max_busy 0.3 s)"
        in ended.error.message()
    )


def test_a_loop_at_the_top_level_of_a_file_is_ended_too(tmp_path: Path) -> None:
    entries = [host(max_busy="300ms"), lua_entry("spin_at_load"), lua_entry("trivial")]
    with App(write_app(tmp_path, entries, SOURCES), extensions=[]) as app:
        assert app.node is not None
        with Probe(app.node, default_timeout=10) as probe:
            spinner = probe.spawn("app:spin_at_load", monitor=True)
            results = [app.exec("app:trivial", i, timeout=10) for i in range(5)]
            ended = probe.expect_exit(spinner, error_kind=errors.LIMIT_EXCEEDED)
            # Terminated while its file still loads: it ends at once, whoever waits.
            stuck = probe.spawn("app:spin_at_load", monitor=True)
            wait_until(lambda: app.node is not None and app.node.is_alive(stuck), what="the second spinner")
            app.node.terminate(stuck)
            terminated = probe.expect_exit(stuck)
    assert results == [i * 2 for i in range(5)]
    assert ended.error is not None and "max_busy 0.3 s" in ended.error.message()
    assert terminated.error is not None and terminated.error.message() == "process terminated"


def test_a_long_computation_alone_on_its_thread_runs_to_its_end(tmp_path: Path) -> None:
    entries = [host(max_busy="100ms"), lua_entry("compute")]
    with App(write_app(tmp_path, entries, SOURCES), extensions=[]) as app:
        started = time.monotonic()
        total = app.exec("app:compute", 30_000_000, timeout=60)
        elapsed = time.monotonic() - started
    assert total == sum(i % 7 for i in range(1, 30_000_001))
    assert elapsed > 0.1  # it ran past max_busy: nobody waited, so nobody ended it


def test_max_busy_is_checked(tmp_path: Path) -> None:
    write_app(tmp_path, [host(max_busy=0)], {})
    try:
        App(tmp_path, extensions=[])
    except errors.Error as refused:
        assert "host.max_busy must be a duration of more than 0" in str(refused)
    else:  # pragma: no cover - the assertion below fails
        raise AssertionError("max_busy: 0 was accepted")
