"""Lua is untrusted: no Python, no filesystem, no OS, only listed modules, a memory cap."""

from __future__ import annotations

from pathlib import Path

import pytest

from actorflow.app import App
from actors import Error, errors
from actors.lua.runtime import LuaState

from .lua_support import HOST, lua_entry, run_lua, write_app

PROBES = {
    "python": "return python",
    "io": "return io",
    "debug": "return debug",
    "package": "return package",
    "dofile": "return dofile",
    "loadfile": "return loadfile",
    "loadstring": "return loadstring",
    "collectgarbage": "return collectgarbage",
    "os.execute": "return os.execute",
    "os.getenv": "return os.getenv",
    "os.remove": "return os.remove",
    "string.dump": "return string.dump",
    "string metatable dump": "return ('x').dump",
}


@pytest.mark.parametrize("name", sorted(PROBES))
def test_dangerous_globals_are_absent(tmp_path: Path, name: str) -> None:
    source = "return {main = function() local f = function() " + PROBES[name] + " end return f() == nil end}"
    assert run_lua(tmp_path, source) is True


def test_binary_chunks_cannot_be_loaded_but_text_can(tmp_path: Path) -> None:
    result = run_lua(
        tmp_path,
        r"""
        return {main = function()
          local f = load("return 1 + 1")
          local g, err = load("\27Lua", "bin", "b")
          local h, err2 = load("\27LuaT\0", "bin")
          return {f(), g == nil, err, h == nil}
        end}
        """,
    )
    assert result[0] == 2 and result[1] is True and "text" in result[2] and result[3] is True


def test_python_objects_cannot_be_explored(tmp_path: Path) -> None:
    result = run_lua(
        tmp_path,
        """
        return {main = function()
          local ch = channel.new(1)
          local handle = rawget(ch, "_h")
          local ok1, e1 = pcall(function() return handle.__class__ end)
          local ok2, e2 = pcall(function() return handle.try_receive end)
          local ok3 = pcall(function() handle.closed = true end)
          return {ok1, tostring(e1), ok2, ok3}
        end}
        """,
    )
    assert result[0] is False and "cannot access Python attributes" in result[1]
    assert result[2] is False and result[3] is False


def test_only_listed_modules_can_be_required(tmp_path: Path) -> None:
    result = run_lua(
        tmp_path,
        """
        return {main = function()
          local ok1, e1 = pcall(require, "funcs")
          local ok2, e2 = pcall(require, "http")
          local time = require("time")
          return {ok1, e1, ok2, e2, type(time.sleep)}
        end}
        """,
        modules=("time",),
    )
    assert result[0] is False and "not allowed" in result[1] and "modules list" in result[1]
    assert result[2] is False and "does not exist" in result[3]
    assert result[4] == "function"


def test_globals_and_library_tables_are_per_process_and_read_only(tmp_path: Path) -> None:
    app_dir = write_app(
        tmp_path,
        [HOST, lua_entry("tamper"), lua_entry("observe")],
        {
            "tamper.lua": """
            return {main = function()
              local ok = pcall(function() string.upper = function() return "hacked" end end)
              getmetatable("").__index.upper = function() return "hacked" end  -- its own state only
              shared_global = "leaked?"
              return {ok, ("x"):upper()}
            end}
            """,
            "observe.lua": """
            return {main = function()
              return {("x"):upper(), shared_global == nil, string.upper("y")}
            end}
            """,
        },
    )
    with App(app_dir, extensions=[]) as app:
        assert app.exec("app:tamper", timeout=5) == [False, "hacked"]
        assert app.exec("app:observe", timeout=5) == ["X", True, "Y"]


def test_memory_cap_kills_the_process_not_the_node(tmp_path: Path) -> None:
    app_dir = write_app(
        tmp_path,
        [HOST, {**lua_entry("hog"), "memory_limit": 8 * 1024 * 1024}, lua_entry("fine")],
        {
            "hog.lua": """
            return {main = function()
              local t = {}
              for i = 1, 1e9 do t[i] = string.rep("x", 1000) .. i end
            end}
            """,
            "fine.lua": "return {main = function() return 'still here' end}",
        },
    )
    with App(app_dir, extensions=[]) as app:
        with pytest.raises(Error) as info:
            app.exec("app:hog", timeout=30)
        assert info.value.kind() == errors.LIMIT_EXCEEDED
        assert app.exec("app:fine", timeout=5) == "still here"


def test_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    with pytest.raises(Error) as info:
        run_lua(tmp_path, "return {main = function()\n  local x = \nend}")
    assert info.value.kind() == errors.INVALID
    assert info.value.message().startswith("main.lua:3:")


def test_missing_method_is_reported(tmp_path: Path) -> None:
    with pytest.raises(Error) as info:
        run_lua(tmp_path, "return {other = function() end}")
    assert "has no function 'main'" in info.value.message()


def test_file_may_return_a_function_directly(tmp_path: Path) -> None:
    assert run_lua(tmp_path, "return function(a, b) return a + b end", 2, 3) == 5


def test_table_iteration_order_is_fixed_by_the_hash_seed() -> None:
    source = b"""
      local t = {}
      for i, k in ipairs({"delta","alpha","kilo","bravo","zulu","echo","mike","oscar"}) do t[k] = i end
      local keys = {}
      for k in pairs(t) do keys[#keys + 1] = k end
      return table.concat(keys, ",")
    """
    orders = {LuaState(lambda *a: None).lua.execute(source) for _ in range(5)}
    assert len(orders) == 1
