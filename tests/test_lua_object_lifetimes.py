"""Regression: Lua code could crash the whole OS process (found by the soak under chaos).

lupa binds every Lua object it hands to Python to the Lua thread it came from;
a callback's arguments belong to the coroutine that called.  Python objects
that outlived that coroutine used its freed memory once Lua had collected it
(lupa issue 84): a ``coroutine.spawn`` task started from a task that then
ended, or a table sent on a channel by a task that ended, corrupted the heap
(segmentation fault, "corrupted size vs. prev_size").  Python now keeps only
objects of the state's main thread (``LuaState.anchored``).

Each program runs in its own interpreter: a regression is a crash, which must
fail this test and not the whole test run.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

RUNNER = """
import sys
from pathlib import Path
from tests.lua_support import run_lua
print(repr(run_lua(Path(sys.argv[1]), open(sys.argv[2]).read(), timeout=60)))
"""

# Each loop allocates enough that Lua's collector runs and frees the coroutines that ended.
SPAWNED_BY_A_TASK_THAT_ENDED = """
local time = require("time")
return {main = function()
  local done = channel.new(0)
  for round = 1, 20 do
    coroutine.spawn(function()
      coroutine.spawn(function()             -- its spawner ends at once
        local junk = {}
        for i = 1, 10 do
          time.sleep("1ms")
          for j = 1, 2000 do junk[j] = {i, j, tostring(j)} end
        end
        done:send(round)
      end)
    end)
  end
  local sum = 0
  for _ = 1, 20 do sum = sum + done:receive() end
  return sum
end}
"""

TABLES_SENT_BY_TASKS_THAT_ENDED = """
local time = require("time")
return {main = function()
  local box = channel.new(100)
  for k = 1, 50 do
    coroutine.spawn(function() box:send({k = k, pad = string.rep("x", 100)}) end)
  end
  local junk = {}
  for i = 1, 100 do
    time.sleep("1ms")
    for j = 1, 2000 do junk[j] = {i, j, tostring(j)} end
  end
  local sum = 0
  for _ = 1, 50 do sum = sum + box:receive().k end
  return sum
end}
"""


@pytest.mark.parametrize(
    ("source", "expected"),
    [(SPAWNED_BY_A_TASK_THAT_ENDED, 210), (TABLES_SENT_BY_TASKS_THAT_ENDED, 1275)],
    ids=["a task spawned by a task that ended", "tables sent on a channel by tasks that ended"],
)
def test_lua_objects_outliving_their_coroutine_do_not_crash_the_process(
    tmp_path: Path, source: str, expected: int
) -> None:
    program = tmp_path / "main.lua.txt"
    program.write_text(source)
    result = subprocess.run(
        [sys.executable, "-c", RUNNER, str(tmp_path / "app"), str(program)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert result.returncode == 0, f"exit status {result.returncode}: {result.stderr[-2000:]}"
    assert result.stdout.strip() == repr(expected)
