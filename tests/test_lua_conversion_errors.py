"""A value that cannot leave Lua is an operation's ``nil, err``, never a raise, in processes and workflows.

A table nested more than 64 deep, or one that contains itself, cannot be
converted: every operation that takes Lua values (send, spawn, exec, call,
async calls, workflow.exec, workflow.attrs, set_options) returns ``nil, err``
``INVALID`` as the spec's result rule says, whatever path the operation takes
(done at once in a process, yielded to the scheduler for a workflow target,
performed by a workflow).  ``process.upgrade`` is the exception the spec
makes: its failure crashes the program.  A logger call with such a field
still logs.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from actorflow.app import App
from actorflow.pytest_plugin import running_app, temporal_environment
from actors import Probe, errors

from .lua_support import write_app

pytestmark = pytest.mark.temporal

WORKFLOW = {"temporal": {"workflow": {"worker": "app:worker"}}}
MODULES = ["funcs", "workflow", "logger"]
ENTRIES = [
    {"name": "processes", "kind": "process.host", "host": {"workers": 2}},
    {"name": "temporal_client", "kind": "temporal.client"},
    {"name": "worker", "kind": "temporal.worker", "client": "app:temporal_client", "task_queue": "convert"},
    {"name": "sender", "kind": "process.lua", "source": "file://sender.lua", "modules": MODULES},
    {"name": "upgrader", "kind": "process.lua", "source": "file://upgrader.lua"},
    {"name": "idle", "kind": "process.lua", "source": "file://idle.lua"},
    {
        "name": "wf_sender",
        "kind": "workflow.lua",
        "source": "file://sender.lua",
        "modules": MODULES,
        "meta": WORKFLOW,
    },
    {"name": "waiter", "kind": "workflow.lua", "source": "file://waiter.lua", "meta": WORKFLOW},
    {"name": "child", "kind": "workflow.lua", "source": "file://idle.lua", "meta": WORKFLOW},
]

CASES = {
    "send_to_process": 'return process.send(targets.process, "x", deep())',
    "send_cyclic_to_process": 'return process.send(targets.process, "x", cyclic())',
    "send_to_workflow": 'return process.send(targets.workflow, "x", deep())',
    "send_cyclic_to_workflow": 'return process.send(targets.workflow, "x", 1, cyclic())',
    "spawn_process": 'return process.spawn("app:idle", "app:processes", deep())',
    "spawn_workflow": 'return process.spawn("app:child", "app:worker", deep())',
    "spawn_context_process": (
        'return process.with_context({deep = deep()}):spawn("app:idle", "app:processes")'
    ),
    "spawn_context_workflow": 'return process.with_context({deep = deep()}):spawn("app:child", "app:worker")',
    "exec_process": 'return process.exec("app:idle", "app:processes", deep())',
    "exec_workflow": 'return process.exec("app:child", "app:worker", deep())',
    "call": 'return funcs.call("app:double", deep())',
    "call_context": 'return funcs.new():with_context({deep = deep()}):call("app:double", 1)',
    "async": 'return funcs.async("app:double", deep())',
    "set_options": "return process.set_options({trap_links = deep()})",
    "workflow_exec": 'return workflow.exec("app:child", deep())',
    "workflow_attrs": "return workflow.attrs({memo = {deep = deep()}})",
    "log": 'logger:info("a deep field", {deep = deep()}); return "logged"',
}
PROCESS_CASES = [name for name in CASES if not name.startswith("workflow_")]
WORKFLOW_CASES = [
    name
    for name in CASES
    if name not in ("set_options", "spawn_process", "exec_process", "spawn_context_process")
]
"""A workflow starts only workflows, and has no process options."""

SENDER = (
    """
local funcs = require("funcs")
local workflow = require("workflow")
local logger = require("logger")

local function deep() local t = {} for _ = 1, 70 do t = {t} end return t end
local function cyclic() local t = {}; t.me = t; return t end

local cases = {
"""
    + "".join(f"  {name} = function(targets) {body} end,\n" for name, body in CASES.items())
    + """}

-- How the call went: its error's kind and message, or what it raised.
return function(case, targets)
  local ok, value, err = pcall(cases[case], targets)
  if not ok then return {raised = tostring(value)} end
  if err ~= nil then return {kind = err:kind(), message = err:message(), value = value} end
  return {value = type(value) == "string" and value or type(value)}
end
"""
)

FILES = {
    "sender.lua": SENDER,
    "idle.lua": "return function(...) return select('#', ...) end\n",
    "waiter.lua": """
        return function()
          local message = process.inbox():receive()
          return message:topic()
        end
    """,
    "upgrader.lua": """
        return function()
          local deep = {}
          for _ = 1, 70 do deep = {deep} end
          process.upgrade(nil, deep)
          return "went on"
        end
    """,
}

NESTED = {"kind": "INVALID", "message": "value nested too deeply (or cyclic)"}
EXPECTED = {"set_options": {**NESTED, "value": False}, "log": {"value": "logged"}}
"""What a case returns when it is not ``nil, err``: set_options says ``false, err``; a log line is written."""

OPERATIONS = {
    "send": "send_to_workflow",
    "spawn": "spawn_workflow",
    "exec": "exec_workflow",
    "call": "call",
    "call_async": "async",
    "wf_exec": "workflow_exec",
    "upgrade": "test_a_failed_upgrade_crashes_the_process_with_the_error",
}
"""Each ``LuaCore`` operation that takes Lua values after a count, and the case that covers it."""


@pytest.fixture(scope="module")
def app(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[App]:
    app_dir = write_app(tmp_path_factory.mktemp("convert"), ENTRIES, FILES)
    state = tmp_path_factory.mktemp("convert-state")
    with running_app(
        app_dir,
        state_dir=state,
        temporal=temporal_environment(request),
        functions={"app:double": lambda value: value * 2},
    ) as running:
        yield running


@pytest.fixture(scope="module")
def targets(app: App) -> Iterator[dict[str, str]]:
    """A process (a probe) and a running workflow to send to."""
    assert app.node is not None
    with Probe(app.node, default_timeout=30) as probe:
        waiter = probe.spawn("app:waiter", host="app:worker", monitor=True)
        yield {"process": str(probe.pid), "workflow": str(waiter)}
        probe.send(waiter, "stop")
        assert probe.expect_exit(waiter).value == "stop"


@pytest.mark.parametrize("case", PROCESS_CASES)
def test_a_process_gets_nil_and_the_error(app: App, targets: dict[str, str], case: str) -> None:
    assert app.exec("app:sender", case, targets, timeout=30) == EXPECTED.get(case, NESTED)


@pytest.mark.parametrize("case", WORKFLOW_CASES)
def test_a_workflow_gets_nil_and_the_error(app: App, targets: dict[str, str], case: str) -> None:
    assert app.exec("app:wf_sender", case, targets, timeout=30) == EXPECTED.get(case, NESTED)


def test_a_failed_upgrade_crashes_the_process_with_the_error(app: App) -> None:
    with pytest.raises(errors.Error) as raised:
        app.exec("app:upgrader", timeout=30)
    assert raised.value.kind() == errors.INVALID
    assert "value nested too deeply (or cyclic)" in raised.value.message()


def test_a_log_line_with_a_field_that_cannot_leave_lua_is_still_written(
    app: App, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO):
        assert app.exec("app:sender", "log", {}, timeout=30) == {"value": "logged"}
    lines = [record.getMessage() for record in caplog.records]
    assert 'a deep field fields="value nested too deeply (or cyclic)"' in lines


def test_every_operation_that_takes_lua_values_has_its_case() -> None:
    from actors.lua.core import LuaCore

    takes_values = {
        name.removeprefix("op_")
        for name, function in vars(LuaCore).items()
        if name.startswith("op_") and "packed" in function.__code__.co_varnames
    }
    assert takes_values == set(OPERATIONS)
    assert {case for case in OPERATIONS.values() if not case.startswith("test_")} <= set(CASES)
