"""The local zone: the machine's in a process, UTC in a workflow wherever it is named from.

A process shows ``t:in_local()``, ``time.localtz`` and
``time.load_location("Local")`` in the machine's zone, with its daylight
saving time.  A workflow's local zone is UTC whichever way Lua reaches it,
so that a history recorded on a machine in Paris replays on one in UTC.
The prelude reads no global it does not define (the class of bug that made
``in_local`` read an unset ``LOCAL_ZONE``).
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from lupa import lua55

from actorflow.pytest_plugin import running_app, temporal_environment, wait_until
from actors.lua.runtime import prelude_source

from .lua_support import HOST, run_lua, write_app
from .replay_support import replay

SHOW = """
local time = require("time")
return function()
  local winter = time.date(2024, time.MARCH, 15, 14, 30, 0, 0, time.utc)
  local summer = time.date(2024, time.JULY, 15, 14, 30, 0, 0, time.utc)
  local here = time.load_location("Local")
  local shown = {}
  for name, t in pairs({winter = winter, summer = summer}) do
    shown[name] = {
      in_local = t:in_local():format("15:04 MST"),
      localtz = t:in_location(time.localtz):format("15:04 MST"),
      load_location = t:in_location(here):format("15:04 MST"),
    }
  end
  shown.date = time.date(2024, time.JULY, 15, 14, 30, 0, 0):format(time.RFC3339)
  -- A command only where the local clock is not UTC's: a replay elsewhere would miss it.
  if winter:in_location(here):hour() ~= winter:hour() then time.sleep("1ms") end
  return shown
end
"""

IN_PARIS = {
    "winter": {"in_local": "15:30 CET", "localtz": "15:30 CET", "load_location": "15:30 CET"},
    "summer": {"in_local": "16:30 CEST", "localtz": "16:30 CEST", "load_location": "16:30 CEST"},
    "date": "2024-07-15T14:30:00+02:00",
}
IN_UTC = {
    "winter": {"in_local": "14:30 UTC", "localtz": "14:30 UTC", "load_location": "14:30 UTC"},
    "summer": {"in_local": "14:30 UTC", "localtz": "14:30 UTC", "load_location": "14:30 UTC"},
    "date": "2024-07-15T14:30:00Z",
}

WORKFLOW = {"temporal": {"workflow": {"worker": "app:worker"}}}
ENTRIES = [
    HOST,
    {"name": "temporal_client", "kind": "temporal.client"},
    {"name": "worker", "kind": "temporal.worker", "client": "app:temporal_client", "task_queue": "zones"},
    {"name": "show", "kind": "process.lua", "source": "file://show.lua", "modules": ["time"]},
    {
        "name": "show_workflow",
        "kind": "workflow.lua",
        "source": "file://show.lua",
        "modules": ["time"],
        "meta": WORKFLOW,
    },
]


@pytest.fixture(scope="module")
def paris() -> Iterator[None]:
    """This process on Paris time (the replay's process is on UTC)."""
    zone = os.environ.get("TZ")
    os.environ["TZ"] = "Europe/Paris"
    time.tzset()
    try:
        yield
    finally:
        if zone is None:
            del os.environ["TZ"]
        else:
            os.environ["TZ"] = zone
        time.tzset()


@pytest.fixture(scope="module")
def recorded(
    paris: None, request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Any]]:
    """The app run on Paris time: the process's and the workflow's values, the workflow's history."""
    root = tmp_path_factory.mktemp("zones") / "app"
    write_app(root, ENTRIES, {"show.lua": SHOW})
    state = tmp_path_factory.mktemp("zones-state")
    with running_app(root, state_dir=state, temporal=temporal_environment(request)) as app:
        process = app.exec("app:show", timeout=30)
        done: dict[str, Any] = {}
        pid = app.start_entry(
            "app:show_workflow", (), None, lambda value, error: done.update(v=value, e=error)
        )
        wait_until(lambda: done, timeout=60, what="the workflow ended")
        assert done["e"] is None, done["e"]
        runtime = app._started[0]
        client = runtime.clients["app:temporal_client"]

        async def fetch() -> Any:
            return await client.get_workflow_handle(pid.uniq).fetch_history()

        history = runtime.loop.run(fetch())
        path = tmp_path_factory.mktemp("zones-history") / "show.json"
        path.write_text(history.to_json())
        yield {"app": root, "process": process, "workflow": done["v"], "history": path}


@pytest.mark.temporal
def test_a_process_shows_the_machine_zone_with_its_summer_time(recorded: dict[str, Any]) -> None:
    assert recorded["process"] == IN_PARIS


@pytest.mark.temporal
def test_a_workflow_local_zone_is_utc_however_lua_names_it(recorded: dict[str, Any]) -> None:
    assert recorded["workflow"] == IN_UTC


@pytest.mark.temporal
def test_the_history_recorded_in_paris_replays_on_utc(recorded: dict[str, Any]) -> None:
    result = replay(recorded["app"], [recorded["history"]])
    assert result.returncode == 0, result.stdout + result.stderr
    assert "replayed 1 histories, 0 failed" in result.stdout


ALLOWED_GLOBALS = {
    # read once, into locals or the sandbox's own tables
    "coroutine", "debug", "table", "string", "math", "utf8", "os", "_G", "load",
    "type", "error", "tostring", "setmetatable", "getmetatable", "rawget", "rawset", "select",
    "pairs", "ipairs", "next", "pcall", "xpcall",
    # removed from the real environment at the end
    "python", "io", "package", "dofile", "loadfile", "loadstring", "collectgarbage",
}  # fmt: skip


def free_names(source: str) -> dict[str, int]:
    """Each global name ``source`` uses, and the first line using it.

    Lua 5.5 compiles ``global none`` code only if every global it uses is
    declared: declaring the names one compile error at a time lists them all,
    a local used before its ``local`` line included (it is a global there).
    """
    compile_error = lua55.LuaRuntime().eval("function(source) return select(2, load(source, '=prelude')) end")
    names: dict[str, int] = {}
    while True:
        header = "global none; " + "".join(f"global {name}; " for name in names)
        problem = compile_error(header + source)
        if problem is None:
            return names
        found = re.search(r":(\d+): variable '(\w+)' not declared", str(problem))
        assert found is not None, problem
        names[found.group(2)] = int(found.group(1))


def test_the_prelude_reads_no_global_it_does_not_define() -> None:
    names = free_names(prelude_source())
    unknown = {name: line for name, line in names.items() if name not in ALLOWED_GLOBALS}
    assert unknown == {}, f"prelude.lua uses globals (a local used before its declaration?): {unknown}"


def test_the_analysis_finds_a_local_used_before_its_declaration() -> None:
    source = "local function f() return LATER end\nlocal LATER = 1\nreturn f\n"
    assert free_names(source) == {"LATER": 1}


def test_a_zone_no_location_has_is_an_invalid_error(tmp_path: Path) -> None:
    """A Time whose zone field was overwritten, or a zone id passed as a name: a typed error."""
    result = run_lua(
        tmp_path,
        """
        local time = require("time")
        function main()
          local t = time.now()
          t._zone = "fixed:abc:x"
          local ok, err = pcall(t.format, t, "15:04")
          local _, by_id = time.load_location("fixed:3600:X")
          return {ok = ok, kind = err:kind(), message = err:message(), by_id = by_id:kind()}
        end
        """,
        modules=("time",),
    )
    assert result == {
        "ok": False,
        "kind": "INVALID",
        "message": "unknown time zone 'fixed:abc:x'",
        "by_id": "NOT_FOUND",
    }
