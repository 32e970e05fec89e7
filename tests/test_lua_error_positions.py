"""A refused ``require`` names the user's file and line, under ``pcall`` and without it.

The position is that of the innermost user code on the stack: the
``require`` call's own line, or, when the call was a tail call
(``return require("x")`` drops the caller's frame), the line of the nearest
user code still running.  Never the runtime's own code
(``[string "<python>"]:…``).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from actorflow.app import App
from actors import errors

from .lua_support import HOST, lua_entry, run_lua, write_app

REFUSED = "module 'json' is not allowed: add it to the entry's modules list"

UNDER_PCALL = """\
local function tail() return require("json") end
function main()
  local found = {}
  local ok, err = pcall(function() return require("json") end)
  found.tail_call = err
  ok, err = pcall(function() local json = require("json"); return json end)
  found.plain_call = err
  ok, err = pcall(require, "json")
  found.pcall_of_require = err
  ok, err = pcall(tail)
  found.named_tail_call = err
  ok, err = pcall(require, 5)
  found.not_a_string = err
  ok, err = pcall(function() local x = require("nowhere"); return x end)
  found.unknown = err
  return found
end
"""


def test_under_pcall_the_message_starts_with_the_user_file_and_line(tmp_path: Path) -> None:
    assert run_lua(tmp_path, UNDER_PCALL, modules=("time",)) == {
        "tail_call": f"main.lua:4: {REFUSED}",
        "plain_call": f"main.lua:6: {REFUSED}",
        "pcall_of_require": f"main.lua:8: {REFUSED}",
        "named_tail_call": f"main.lua:10: {REFUSED}",
        "not_a_string": "main.lua:12: require: module name must be a string",
        "unknown": "main.lua:14: module 'nowhere' does not exist",
    }


@pytest.mark.parametrize(
    ("source", "line"),
    [
        ('function main()\n  local n = 1\n  local json = require("json")\n  return json\nend\n', 3),
        ('local json = require("json")\nfunction main() return 1 end\n', 1),
    ],
    ids=["in_main", "at_load"],
)
def test_without_pcall_the_program_fails_at_the_user_line(tmp_path: Path, source: str, line: int) -> None:
    with pytest.raises(errors.Error) as raised:
        run_lua(tmp_path, source, modules=("time",))
    assert raised.value.message() == f"main.lua:{line}: {REFUSED}"


def test_a_library_refused_a_module_names_its_own_file_and_line(tmp_path: Path) -> None:
    entries = [
        HOST,
        {"name": "lib", "kind": "library.lua", "source": "file://lib.lua"},
        {**lua_entry("main"), "imports": {"lib": "app:lib"}},
    ]
    files = {
        "lib.lua": 'local M = {}\nM.json = require("json")\nreturn M\n',
        "main.lua": 'function main()\n  local ok, err = pcall(require, "lib")\n  return err\nend\n',
    }
    with App(write_app(tmp_path, entries, files), extensions=[]) as app:
        assert app.exec("app:main", timeout=10) == f"lib.lua:2: {REFUSED}"
