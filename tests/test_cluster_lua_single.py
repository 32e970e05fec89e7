"""The cluster's Lua side on a node of its own: pg groups, registry scopes and locks still work.

A node in no cluster has groups of its own processes (``pg``), treats every
registry scope as local, and ``system.lock`` is a lock of this node; the
same Lua runs unchanged on a cluster (``tests/test_cluster_lua.py``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import cluster  # noqa: F401  (the pg module and kind)
import wippy_compat
from actorflow.app import App
from actors.entries import AppLoadError

from .lua_support import HOST, write_app

SCOPE = {"name": "pg", "kind": "pg.scope", "max_members_per_group": 3}


def run(
    root: Path, source: str, extra: list[dict[str, Any]] | None = None, files: dict[str, str] | None = None
) -> Any:
    entries = [
        HOST,
        SCOPE,
        {
            "name": "main",
            "kind": "process.lua",
            "source": "file://main.lua",
            "modules": ["pg", "time", "system"],
        },
        *(extra or []),
    ]
    write_app(root, entries, {"main.lua": source, **(files or {})})
    with App(root, extensions=[wippy_compat.install]) as app:
        return app.exec("app:main", timeout=15)


MEMBER = {
    "name": "member",
    "kind": "process.lua",
    "source": "file://member.lua",
    "modules": ["pg"],
}
MEMBER_LUA = """
local pg = require("pg")
return function(group)
  local scope = pg.open("app:pg")
  scope:join(group)
  local ch = process.listen("job")
  while true do
    local job = ch:receive()
    if job == "stop" then return "stopped" end
    process.send(process.registry.lookup("main"), "done", {who = process.pid(), job = job})
  end
end
"""


def test_groups_join_broadcast_monitor_and_leave_on_one_node(tmp_path: Path) -> None:
    value = run(
        tmp_path,
        """
local pg = require("pg")
local time = require("time")
return function()
  process.registry.register("main")
  local scope, err = pg.open("app:pg")
  assert(not err, tostring(err))
  local sub, members = scope:monitor("workers")
  local before = #members
  local one = process.spawn("app:member", "app:processes", "workers")
  local two = process.spawn("app:member", "app:processes", "workers")
  local events = sub:channel()
  local joined = {}
  for _ = 1, 2 do
    local event = events:receive()
    joined[#joined + 1] = event.kind .. " " .. event.data.PIDs[1]
  end
  local all = scope:get_members("workers")
  local ok = scope:broadcast("workers", "job", "build")
  local done = process.listen("done")
  local who = {}
  for _ = 1, 2 do who[done:receive().who] = true end
  process.send(one, "job", "stop")
  local left = events:receive()
  sub:close()
  local _, not_member = scope:leave("workers")
  local _, empty = scope:join("")
  local groups = scope:which_groups()
  local mine = scope:which_local_groups()
  scope:release()
  local _, released = scope:get_members("workers")
  local _, missing = pg.open("app:nope")
  process.send(two, "job", "stop")
  return {before, joined, #all, ok, who[one] and who[two], left.kind, left.data.PIDs[1] == one,
          not_member:kind(), empty:kind(), groups, mine, released:kind(), released:message(),
          missing:kind(), tostring(scope), one, two}
end
""",
        [MEMBER],
        {"member.lua": MEMBER_LUA},
    )
    one, two = value[-2:]
    value[1] = sorted(value[1])  # the two children join concurrently
    assert value[:-2] == [
        0,
        sorted([f"member.joined {one}", f"member.joined {two}"]),
        2,
        True,
        True,
        "member.left",
        True,
        "INVALID",
        "INVALID",
        ["workers"],
        ["workers"],
        "INVALID",
        "pg instance is released",
        "INTERNAL",
        "pg.Instance{app:pg, released}",
    ]


def test_a_scope_limits_the_memberships_of_a_group_and_its_members_leave_on_exit(tmp_path: Path) -> None:
    value = run(
        tmp_path,
        """
local pg = require("pg")
return function()
  local scope = pg.open("app:pg")
  local results = {}
  for i = 1, 4 do
    local ok, err = scope:join("capped")
    results[i] = ok and "ok" or err:kind()
  end
  scope:leave("capped")
  local again = scope:join({"capped", "other"})
  local child = process.spawn_monitored("app:joiner", "app:processes")
  local events = process.events()
  events:receive()  -- its EXIT
  local sub, snapshot = scope:events()
  sub:close()
  return {results, again, scope:get_members("capped")[1] == process.pid(), snapshot.capped ~= nil,
          #scope:get_members("elsewhere")}
end
""",
        [{"name": "joiner", "kind": "process.lua", "source": "file://joiner.lua", "modules": ["pg"]}],
        {
            "joiner.lua": 'local pg = require("pg")\nreturn function() pg.open("app:pg"):join("elsewhere") end\n'
        },
    )
    assert value == [["ok", "ok", "ok", "LIMIT_EXCEEDED"], True, True, True, 0]


def test_every_registry_scope_is_local_on_a_node_of_its_own(tmp_path: Path) -> None:
    value = run(
        tmp_path,
        """
return function()
  local r = process.registry
  local results = {}
  for _, scope in ipairs({r.LOCAL, r.EVENTUAL, r.CONSISTENT, r.STRONG}) do
    local name = "svc" .. scope
    results[#results + 1] = {r.register(name, nil, scope), r.lookup(name) == process.pid(),
                             r.unregister(name, scope), r.unregister(name, scope)}
  end
  local _, bad = r.register("x", nil, 7)
  local _, bad_unregister = r.unregister("x", "quorum")
  return {results, bad:kind(), bad_unregister:kind()}
end
""",
    )
    assert value == [[[True, True, True, False]] * 4, "INVALID", "INVALID"]


def test_a_lock_of_one_node_has_one_holder_and_does_not_nest(tmp_path: Path) -> None:
    value = run(
        tmp_path,
        """
local system = require("system")
return function()
  local got = system.lock.acquire("orders.migration")
  local again, nested = system.lock.acquire("orders.migration")
  local other = process.exec("app:locker", "app:processes")
  local released = system.lock.release("orders.migration")
  local twice = system.lock.release("orders.migration")
  local after = process.exec("app:locker", "app:processes")
  return {got, again, nested:kind(), other, released, twice, after}
end
""",
        [{"name": "locker", "kind": "process.lua", "source": "file://locker.lua", "modules": ["system"]}],
        {
            "locker.lua": """
local system = require("system")
return function()
  local ok, err = system.lock.acquire("orders.migration")
  return ok and "acquired" or (tostring(ok) .. " " .. err:kind())
end
"""
        },
    )
    assert value == [True, False, "ALREADY_EXISTS", "false ALREADY_EXISTS", True, False, "acquired"]


def test_a_bad_pg_scope_is_refused_at_load(tmp_path: Path) -> None:
    write_app(tmp_path, [HOST, {"name": "pg", "kind": "pg.scope", "max_groups": -1}], {})
    with pytest.raises(AppLoadError) as bad:
        App(tmp_path)
    assert "max_groups must be a non-negative integer" in str(bad.value)
