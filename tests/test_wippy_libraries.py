"""library.lua entries and imports: require("alias") of a library of any namespace, as Wippy does."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from actorflow.app import App
from actors import errors
from actors.entries import AppLoadError, load_app


def write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def app_yaml(namespace: str, entries: list[dict]) -> str:
    return yaml.safe_dump({"namespace": namespace, "entries": entries}, sort_keys=False)


HOST = {"name": "processes", "kind": "process.host", "host": {"workers": 2}}

LIBS = app_yaml(
    "app.lib",
    [
        {"name": "strings", "kind": "library.lua", "source": "file://strings.lua", "modules": ["json"]},
        {
            "name": "greet",
            "kind": "library.lua",
            "source": "file://greet.lua",
            "imports": {"s": "app.lib:strings"},
        },
    ],
)

STRINGS = """\
local M = {}
local calls = 0                       -- this process's own
function M.shout(text: string): string
  calls = calls + 1
  return string.upper(text) .. "!"
end
function M.calls(): integer return calls end
function M.encode(value) return require("json").encode(value) end
function M.fail() error("strings failed here") end
return M
"""

GREET = """\
local s = require("s")
return {hello = function(name) return s.shout("hello " .. name) end}
"""


def test_require_loads_a_library_of_another_namespace_with_its_own_modules(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "lib/libs.yaml": LIBS,
            "lib/strings.lua": STRINGS,
            "lib/greet.lua": GREET,
            "app.yaml": app_yaml(
                "app",
                [
                    HOST,
                    {
                        "name": "main",
                        "kind": "process.lua",
                        "source": "file://main.lua",
                        "method": "main",
                        "imports": {"greet": "app.lib:greet", "strings": "app.lib:strings"},
                    },
                ],
            ),
            "main.lua": """\
local function main()
  local greet = require("greet")
  local strings = require("strings")
  local again = require("strings")
  local ok, err = pcall(require, "json")        -- the library's module, not the entry's
  return {
    greet.hello("ada"),
    strings.encode({1, 2}),
    strings.calls(),                          -- one instance per process: greet's call counted
    again == strings,
    ok,
    tostring(err),
  }
end
return {main = main}
""",
        },
    )
    with App(tmp_path, extensions=[]) as app:
        value = app.exec("app:main", timeout=10)
    assert value[:5] == ["HELLO ADA!", "[1,2]", 1, True, False]
    assert "module 'json' is not allowed" in value[5]


def test_each_process_has_its_own_library_instance(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "lib/libs.yaml": LIBS,
            "lib/strings.lua": STRINGS,
            "lib/greet.lua": GREET,
            "app.yaml": app_yaml(
                "app",
                [
                    HOST,
                    {
                        "name": "main",
                        "kind": "process.lua",
                        "source": "file://main.lua",
                        "imports": {"strings": "app.lib:strings"},
                    },
                ],
            ),
            "main.lua": """\
return function(times)
  local strings = require("strings")
  for _ = 1, times do strings.shout("x") end
  return strings.calls()
end
""",
        },
    )
    with App(tmp_path, extensions=[], lua_states=1) as app:  # every process in one shared Lua state
        assert app.exec("app:main", 3, timeout=10) == 3
        assert app.exec("app:main", 2, timeout=10) == 2  # not 5: nothing is shared between processes


def test_a_library_sets_globals_of_the_process_that_requires_it(tmp_path: Path) -> None:
    """Wippy's migration DSL: define(fn) sets globals the importer's function then calls."""
    write(
        tmp_path,
        {
            "app.yaml": app_yaml(
                "app",
                [
                    HOST,
                    {"name": "dsl", "kind": "library.lua", "source": "file://dsl.lua"},
                    {
                        "name": "main",
                        "kind": "process.lua",
                        "source": "file://main.lua",
                        "imports": {"dsl": "dsl"},
                    },
                ],
            ),
            "dsl.lua": """\
local collected = {}
local M = {}
function M.define(fn)
  _G.step = function(name) collected[#collected + 1] = name end
  fn()
  _G.step = nil
  return collected
end
return M
""",
            "main.lua": """\
return function()
  return require("dsl").define(function() step("a"); step("b") end)
end
""",
        },
    )
    with App(tmp_path, extensions=[]) as app:
        assert app.exec("app:main", timeout=10) == ["a", "b"]


def test_a_runtime_error_in_a_library_names_the_library_file_and_line(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "lib/libs.yaml": LIBS,
            "lib/strings.lua": STRINGS,
            "lib/greet.lua": GREET,
            "app.yaml": app_yaml(
                "app",
                [
                    HOST,
                    {
                        "name": "main",
                        "kind": "process.lua",
                        "source": "file://main.lua",
                        "imports": {"strings": "app.lib:strings"},
                    },
                ],
            ),
            "main.lua": "return function() require('strings').fail() end\n",
        },
    )
    with App(tmp_path, extensions=[]) as app, pytest.raises(errors.Error) as info:
        app.exec("app:main", timeout=10)
    assert info.value.message() == "lib/strings.lua:9: strings failed here"


def test_check_reports_unknown_imports_wrong_kinds_cycles_and_missing_methods(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "app.yaml": app_yaml(
                "app",
                [
                    HOST,
                    {"name": "a", "kind": "library.lua", "source": "file://lib.lua", "imports": {"b": "b"}},
                    {"name": "b", "kind": "library.lua", "source": "file://lib.lua", "imports": {"a": "a"}},
                    {
                        "name": "main",
                        "kind": "process.lua",
                        "source": "file://main.lua",
                        "method": "run",
                        "imports": {"missing": "app.lib:nowhere", "proc": "app:other"},
                    },
                    {"name": "other", "kind": "process.lua", "source": "file://main.lua", "method": "main"},
                    {"name": "bad", "kind": "process.lua", "source": "file://main.lua", "imports": ["a"]},
                ],
            ),
            "lib.lua": "return {}\n",
            "main.lua": "local M = {}\nfunction M.main() end\nreturn M\n",
        },
    )
    with pytest.raises(AppLoadError) as info:
        load_app(tmp_path)
    problems = sorted(str(problem) for problem in info.value.problems)
    assert problems == [
        "app.yaml:12: app:b: library imports form a cycle: app:a → app:b → app:a",
        "app.yaml:17: app:main: imports.missing references unknown entry 'app.lib:nowhere'",
        "app.yaml:17: app:main: imports.proc references 'app:other' of kind 'process.lua', expected library.lua",
        "app.yaml:17: app:main: method 'run' is not defined in main.lua: "
        "define function run (or return a function or a table holding it)",
        "app.yaml:28: app:bad: 'imports' must map aliases to library entry IDs (alias: ns:name)",
    ]


def test_a_library_that_uses_a_module_not_allowed_in_workflows_says_so_in_a_workflow(tmp_path: Path) -> None:
    """Loaded in a workflow's deterministic state, a library is there only if all it uses is."""
    from actors.lua.runtime import LuaState

    write(
        tmp_path,
        {
            "app.yaml": app_yaml(
                "app",
                [
                    {"name": "pure", "kind": "library.lua", "source": "file://pure.lua", "modules": ["json"]},
                    {
                        "name": "main",
                        "kind": "process.lua",
                        "source": "file://main.lua",
                        "imports": {"pure": "pure"},
                    },
                ],
            ),
            "pure.lua": "return {twice = function(x) return x * 2 end}\n",
            "main.lua": "return function() return require('pure').twice(21) end\n",
        },
    )
    registry = load_app(tmp_path)
    code = registry.require("app:main").lua_code()
    state = LuaState(deterministic=True)
    fn = state.load_entry(code.source, code.chunkname, code.method, code.modules)
    assert fn() == 42
