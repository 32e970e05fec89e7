"""Typed Lua sources load like plain ones: annotations erased at load, lines kept."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from actors.entries import AppLoadError, load_app
from tests.test_entries_and_cli import run_cli, write

APP = """namespace: app
entries:
  - name: main
    kind: process.lua
    source: file://main.lua
"""

TYPED_MAIN = """type Order = {id: string, total: number, tags: {string}?}

local function total_of(orders: {Order}): number
  local sum: number = 0
  for _, order: Order in ipairs(orders) do
    sum = sum + order.total
  end
  return sum
end

local function main(orders: {Order}, fail: boolean?): (number?, string?)
  if fail then
    error("boom")
  end
  return total_of(orders)
end

return {main = main}
"""


def test_a_typed_process_runs_and_its_errors_point_at_the_original_lines(tmp_path: Path) -> None:
    write(tmp_path / "app.yaml", APP)
    write(tmp_path / "main.lua", TYPED_MAIN)
    orders = json.dumps([{"id": "a", "total": 2.5}, {"id": "b", "total": 4}])
    result = run_cli("-q", "exec", str(tmp_path), "app:main", orders)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1]) == 6.5

    failed = run_cli("-q", "exec", str(tmp_path), "app:main", orders, "true")
    assert failed.returncode == 1
    assert "main.lua:13: boom" in failed.stderr  # the line of error() in the typed source


def test_an_annotation_that_cannot_be_erased_is_a_load_problem_with_file_and_line(tmp_path: Path) -> None:
    write(tmp_path / "app.yaml", APP)
    write(tmp_path / "main.lua", "local x: = 1\nreturn {main = function() return x end}\n")
    with pytest.raises(AppLoadError) as caught:
        load_app(tmp_path)
    message = caught.value.message()
    assert "app.yaml:3: app:main: Lua type annotation: main.lua:1: cannot erase" in message
