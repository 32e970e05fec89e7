"""Lua modules registered from Python (actors.lua.register_module), as a package outside actors would."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from actorflow.app import App
from actors import errors
from actors.entries import AppLoadError, load_app
from actors.lua import Caller, module_names, register_module, unregister_module
from actors.lua.core import LuaCore
from actors.lua.runtime import LuaState
from actors.scheduling import DONE, Router, Scheduler

from .lua_support import HOST, lua_entry, run_lua, write_app

GREETER = """
local api = ...
local greeter = {}
function greeter.hello(name) return api.call("hello", name) end
function greeter.who() return api.call("who") end
function greeter.later(value) return api.call("later", value) end
function greeter.refuse() return api.call("refuse") end
function greeter.broken() return api.call("broken") end
function greeter.leak() return api.call("leak") end
function greeter.is_error(value) return api.is_error(value) end
greeter.settings = {greeting = "hello"}
return greeter
"""


def _hello(caller: Caller, name: Any) -> str:
    return f"hello {name}"


def _who(caller: Caller) -> tuple[Any, ...]:
    return caller.pid, caller.entry_id, dict(caller.context), caller.node is not None, caller.in_workflow


def _later(caller: Caller, value: Any) -> None:
    resume = caller.suspend()  # answered from another thread, as an I/O library would
    threading.Timer(0.05, resume, args=(value * 2, None)).start()


def _refuse(caller: Caller) -> None:
    raise errors.Error(errors.NOT_FOUND, "no such greeting")


def _broken(caller: Caller) -> None:
    raise ZeroDivisionError("a bug in the handler")


def _leak(caller: Caller) -> object:
    return caller  # a Python object must never reach Lua


@pytest.fixture(autouse=True)
def greeter() -> Iterator[None]:
    register_module(
        "greeter",
        GREETER,
        {"hello": _hello, "who": _who, "later": _later, "refuse": _refuse, "broken": _broken, "leak": _leak},
        in_workflows=False,
        waiting=("later",),
    )
    yield
    unregister_module("greeter")


def test_a_registered_module_is_required_and_called_from_a_lua_process(tmp_path: Path) -> None:
    app_dir = write_app(
        tmp_path,
        [HOST, lua_entry("main", modules=("greeter",)), lua_entry("spawner")],
        {
            "main.lua": """
            local greeter = require("greeter")
            return {main = function()
              local refused, err = greeter.refuse()
              local ok, crash = pcall(greeter.broken)
              local leaked, leak = pcall(greeter.leak)
              local pid, entry, context, on_node, in_workflow = greeter.who()
              local other = coroutine.spawn(function() process.send(process.pid(), "ran", true) end)
              return {
                hello = greeter.hello("ada"),
                later = greeter.later(21),
                refused = refused == nil and err:kind() .. ": " .. err:message(),
                is_error = greeter.is_error(err),
                crash = not ok and crash:kind() .. ": " .. crash:message(),
                leak = not leaked and leak:kind() .. ": " .. leak:message(),
                me = pid == process.pid(), entry = entry, context = context, on_node = on_node,
                in_workflow = in_workflow, settings = greeter.settings.greeting,
                others_ran = process.listen("ran"):receive(),
              }
            end}
            """,
            "spawner.lua": """
            return {main = function()
              local child = process.with_context({tenant = "t1"}):spawn_monitored("app:main", "app:processes")
              local event = process.events():receive()
              return event.result.value
            end}
            """,
        },
    )
    with App(app_dir, extensions=[]) as app:
        result = app.exec("app:spawner", timeout=10)
    assert result == {
        "hello": "hello ada",
        "later": 42,
        "refused": "NOT_FOUND: no such greeting",
        "is_error": True,
        "crash": "INTERNAL: greeter.broken: ZeroDivisionError: a bug in the handler",
        "leak": "INVALID: cannot pass a Caller to Lua",
        "me": True,
        "entry": "app:main",
        "context": {"tenant": "t1"},
        "on_node": True,
        "in_workflow": False,
        "settings": "hello",
        "others_ran": True,
    }


def test_a_module_not_listed_in_the_entry_is_refused(tmp_path: Path) -> None:
    ok, message = run_lua(
        tmp_path,
        """
        return {main = function() return {pcall(require, "greeter")} end}
        """,
        modules=("time",),
    )
    assert ok is False
    assert message.endswith("module 'greeter' is not allowed: add it to the entry's modules list")


def test_the_loader_knows_registered_modules_and_refuses_unknown_ones(tmp_path: Path) -> None:
    assert "greeter" in module_names()
    write_app(
        tmp_path,
        [HOST, lua_entry("main", modules=("greeter", "nonesuch"))],
        {"main.lua": "return function() end"},
    )
    with pytest.raises(AppLoadError) as info:
        load_app(tmp_path)
    problems = [str(problem) for problem in info.value.problems]
    assert len(problems) == 1 and "module 'nonesuch' is not available" in problems[0]


def test_processes_sharing_a_state_each_see_the_module_read_only(tmp_path: Path) -> None:
    app_dir = write_app(
        tmp_path,
        [HOST, lua_entry("tamper", modules=("greeter",)), lua_entry("observe", modules=("greeter",))],
        {
            "tamper.lua": """
            local greeter = require("greeter")
            return {main = function()
              local results = {
                pcall(function() greeter.hello = function() return "hacked" end end),
                (pcall(function() greeter.settings.greeting = "hacked" end)),
              }
              rawset(greeter, "hello", function() return "hacked" end)  -- its own view only
              rawset(greeter.settings, "greeting", "hacked")
              results[#results + 1] = greeter.hello("x")
              return results
            end}
            """,
            "observe.lua": """
            local greeter = require("greeter")
            return {main = function() return {greeter.hello("x"), greeter.settings.greeting} end}
            """,
        },
    )
    with App(app_dir, extensions=[], lua_states=1) as app:
        assert app.exec("app:tamper", timeout=5) == [False, False, "hacked"]
        assert app.exec("app:observe", timeout=5) == ["hello x", "hello"]
        assert app.lua_pool is not None and app.lua_pool.states() == 1


class _WorkflowEffects:
    """The effects of a workflow, as far as a module check needs them (a fake of our own seam)."""

    in_workflow = True
    node = None
    context: dict[str, Any] = {}
    trap_links = False

    def pid_text(self) -> str:
        return "{worker|wf-1}"

    def terminated(self) -> bool:
        return False


def test_a_module_not_declared_for_workflows_cannot_be_required_in_one() -> None:
    state = LuaState(deterministic=True)
    router = Router()
    scheduler = Scheduler(None, router)  # type: ignore[arg-type]
    core = LuaCore(state, router, scheduler, effects=_WorkflowEffects())  # type: ignore[arg-type]
    scheduler.driver = core
    code = _Code(
        "app:wf",
        """
        return {main = function()
          local ok, err = pcall(require, "greeter")
          local json = require("json")  -- the standard modules are declared pure
          return {ok, err, json.encode({1, 2})}
        end}
        """,
        ("greeter", "json"),
    )
    scheduler.spawn(core.main_task(core.load(code), ()), main=True)
    assert scheduler.advance() == DONE
    value, error = core.result_of(*scheduler.outcome)  # type: ignore[misc]
    assert error is None
    assert value[0] is False and value[2] == "[1,2]"
    assert value[1].endswith(
        "module 'greeter' is not available in workflows (its operations are not deterministic)"
    )


class _Code:
    def __init__(self, entry_id: str, source: str, modules: tuple[str, ...]) -> None:
        self.entry_id = entry_id
        self.source = source
        self.chunkname = "wf.lua"
        self.method = "main"
        self.modules = modules


def test_registration_is_checked() -> None:
    with pytest.raises(errors.Error) as info:
        register_module("greeter", GREETER, {}, in_workflows=False)
    assert info.value.kind() == errors.ALREADY_EXISTS
    with pytest.raises(errors.Error) as info:
        register_module("time", GREETER, {}, in_workflows=False)
    assert info.value.kind() == errors.ALREADY_EXISTS
    with pytest.raises(errors.Error) as info:
        register_module("bad name", GREETER, {}, in_workflows=False)
    assert info.value.kind() == errors.INVALID
    with pytest.raises(errors.Error) as info:
        register_module("other", GREETER, {"x": _hello}, in_workflows=False, waiting=("y",))
    assert info.value.kind() == errors.INVALID
