"""Lua processes run on their host's Lua lane: ``lua_threads`` threads, whatever ``workers`` is.

lupa releases the GIL on every call into Lua and takes it back on every
callback; Lua processes spread over a host's ``workers`` threads handed the
GIL over at nearly every step, and ``workers: 32`` ran a Lua app five times
slower than ``workers: 1`` (issue 15, 6).  They now run on a lane of their
own, each process on one lane thread, and the pool is left to Python actors.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from actorflow.app import App
from actors import Node, ProcessHost, errors
from actors.lua import register_module
from actors.lua.modules import unregister_module

from .lua_support import lua_entry, write_app

THREAD_PROBE = """
local api = ...
return {name = function() return api.call("name") end}
"""


@pytest.fixture
def thread_probe() -> Iterator[None]:
    """A Lua module ``thread_probe`` whose ``name()`` is the name of the thread running the caller."""
    register_module(
        "thread_probe",
        THREAD_PROBE,
        {"name": lambda caller: threading.current_thread().name},
        in_workflows=False,
        replace=True,
    )
    yield
    unregister_module("thread_probe")


SPREAD = {
    "main.lua": """
    return {main = function(count)
      local seen = process.listen("seen")
      for i = 1, count do process.spawn("app:worker", "app:processes", process.pid()) end
      local threads = {}
      for _ = 1, count do
        local names = seen:receive()
        table.insert(threads, names)
      end
      return threads
    end}
    """,
    "worker.lua": """
    local probe = require("thread_probe")
    local time = require("time")
    return {main = function(parent)
      local names = {probe.name()}
      for _ = 1, 3 do
        time.sleep("1ms")                      -- wakes on whichever thread the host chooses
        table.insert(names, probe.name())
      end
      process.send(parent, "seen", names)
    end}
    """,
}


@pytest.mark.parametrize("lua_threads", [1, 2])
def test_lua_processes_run_on_no_more_threads_than_lua_threads(
    tmp_path: Path, thread_probe: None, lua_threads: int
) -> None:
    host = {"name": "processes", "kind": "process.host", "host": {"workers": 8, "lua_threads": lua_threads}}
    entries = [host, lua_entry("main"), lua_entry("worker", modules=("thread_probe", "time"))]
    with App(write_app(tmp_path, entries, SPREAD), extensions=[]) as app:
        per_process = app.exec("app:main", 200, timeout=30)
    assert len(per_process) == 200
    # A process stays on its thread, and all of them use at most lua_threads threads.
    assert all(len(set(names)) == 1 for names in per_process), per_process
    threads = {names[0] for names in per_process}
    assert threads == {f"app:processes-lua-{index}" for index in range(lua_threads)}


def voluntary_switches() -> int:
    """Voluntary context switches of every thread of this OS process so far (Linux)."""
    total = 0
    for task in os.listdir("/proc/self/task"):
        try:
            with open(f"/proc/self/task/{task}/status") as status:
                total += sum(int(line.split()[1]) for line in status if line.startswith("voluntary_ctxt"))
        except OSError:
            pass  # the thread ended meanwhile
    return total


PAIRS = {
    "pairs.lua": """
    return {main = function(count, rounds)
      local dones = process.listen("done")
      for _ = 1, count do process.spawn("app:pinger", "app:processes", rounds, process.pid()) end
      local total = 0
      for _ = 1, count do total = total + dones:receive() end
      return total
    end}
    """,
    "pinger.lua": """
    return {main = function(rounds, observer)
      local ponger = process.spawn("app:ponger", "app:processes")
      local pongs = process.listen("pong")
      local sum = 0
      for n = 1, rounds do
        process.send(ponger, "ping", {from = process.pid(), n = n})
        sum = sum + pongs:receive()
      end
      process.terminate(ponger)
      process.send(observer, "done", sum)
    end}
    """,
    "ponger.lua": """
    return {main = function()
      local pings = process.listen("ping")
      while true do
        local ping = pings:receive()
        process.send(ping.from, "pong", ping.n)
      end
    end}
    """,
}


@pytest.mark.skipif(not os.path.isdir("/proc/self/task"), reason="counts thread switches in /proc (Linux)")
def test_lua_message_passing_hands_no_thread_over_on_a_host_of_many_workers(tmp_path: Path) -> None:
    """8 pairs × 1,000 round trips on ``workers: 32``: on the pool this was thousands of GIL
    hand-offs between workers (each a blocking switch); on the lane, a handful."""
    host = {"name": "processes", "kind": "process.host", "host": {"workers": 32}}
    entries = [host, lua_entry("pairs"), lua_entry("pinger"), lua_entry("ponger")]
    with App(write_app(tmp_path, entries, PAIRS), extensions=[]) as app:
        app.exec("app:pairs", 2, 10, timeout=30)  # warm: the lane thread and the states exist
        before = voluntary_switches()
        total = app.exec("app:pairs", 8, 1_000, timeout=60)
        switches = voluntary_switches() - before
    assert total == 8 * 1_000 * 1_001 // 2
    assert switches < 100, f"{switches} blocking thread switches"


def test_lua_threads_is_checked() -> None:
    node = Node(default_host="")
    with pytest.raises(errors.Error) as refused:
        ProcessHost(node, "app:h", lua_threads=0)
    assert refused.value.kind() == errors.INVALID
    assert "lua_threads must be at least 1" in refused.value.message()
    node.shutdown()


def test_a_bad_lua_threads_is_a_problem_of_the_entry(tmp_path: Path) -> None:
    host: dict[str, Any] = {"name": "processes", "kind": "process.host", "host": {"lua_threads": "two"}}
    write_app(tmp_path, [host], {})
    with pytest.raises(errors.Error) as refused:
        App(tmp_path, extensions=[])
    assert "host.lua_threads must be a positive integer" in str(refused.value)
