"""env, events, registry, metrics and system, as their Wippy pages describe (value, err)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

import wippy_compat
from actorflow.app import App
from actors.entries import AppLoadError, load_app
from wippy_compat._context import _by_node
from wippy_compat.metrics import metrics_of

from .lua_support import HOST, write_app


def run(
    root: Path,
    source: str,
    modules: list[str],
    extra_entries: list[dict[str, Any]] | None = None,
    files: dict[str, str] | None = None,
    *args: Any,
) -> Any:
    entries = [
        HOST,
        {"name": "main", "kind": "process.lua", "source": "file://main.lua", "modules": modules},
        *(extra_entries or []),
    ]
    write_app(root, entries, {"main.lua": source, **(files or {})})
    with App(root, extensions=[wippy_compat.install]) as app:
        return app.exec("app:main", *args, timeout=15)


ENV_ENTRIES = [
    {"name": "memory", "kind": "env.storage.memory"},
    {"name": "file", "kind": "env.storage.file", "file_path": "data/app.env", "auto_create": True},
    {"name": "os", "kind": "env.storage.os"},
    {"name": "defaults", "kind": "env.storage.static", "values": {"APP_ENV": "production", "PORT": "8080"}},
    {"name": "config", "kind": "env.storage.router", "storages": ["memory", "defaults"]},
    {"name": "app_env", "kind": "env.variable", "variable": "APP_ENV", "storage": "config"},
    {"name": "port", "kind": "env.variable", "variable": "PORT", "storage": "defaults", "readonly": True},
    {"name": "token", "kind": "env.variable", "variable": "TOKEN", "storage": "file"},
    {"name": "home", "kind": "env.variable", "variable": "WIPPY_TEST_HOME", "storage": "os"},
    {"name": "secret", "kind": "env.variable", "storage": "memory", "default": "s3cret"},
]


def test_env_reads_and_writes_declared_variables_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WIPPY_TEST_HOME", "/home/ada")
    monkeypatch.setenv("NOT_DECLARED", "hidden")
    (tmp_path / "data").mkdir()
    (tmp_path / "data/app.env").write_text("# tokens\nTOKEN=abc # the old one\n")
    value = run(
        tmp_path,
        """
local env = require("env")
return function()
  local before = env.get("APP_ENV")
  local set_ok = env.set("APP_ENV", "staging")      -- the router writes to its first storage
  local _, readonly = env.set("PORT", "1")
  local _, hidden = env.get("NOT_DECLARED")
  local _, empty = env.get("")
  env.set("TOKEN", "xyz")
  return {before, set_ok, env.get("APP_ENV"), env.get("PORT"), readonly:kind(), env.get("TOKEN"),
          env.get("WIPPY_TEST_HOME"), env.get("app:secret"), hidden:kind(), empty:kind(), env.get_all()}
end
""",
        ["env"],
        ENV_ENTRIES,
    )
    assert value[:10] == [
        "production",
        True,
        "staging",
        "8080",
        "PERMISSION_DENIED",
        "xyz",
        "/home/ada",
        "s3cret",
        "NOT_FOUND",
        "INVALID",
    ]
    assert value[10] == {"APP_ENV": "staging", "PORT": "8080", "TOKEN": "xyz", "WIPPY_TEST_HOME": "/home/ada"}
    assert (tmp_path / "data/app.env").read_text() == "TOKEN=xyz\n"
    assert "NOT_DECLARED" in os.environ


def test_env_kinds_are_checked_when_the_app_loads(tmp_path: Path) -> None:
    import wippy_compat  # noqa: F401  (the kinds)

    write_app(
        tmp_path,
        [
            {"name": "config", "kind": "env.storage.router", "storages": ["nowhere"]},
            {"name": "loop_a", "kind": "env.storage.router", "storages": ["loop_b"]},
            {"name": "loop_b", "kind": "env.storage.router", "storages": ["loop_a"]},
            {"name": "bad", "kind": "env.variable", "variable": "has-dash", "storage": "config"},
            {"name": "lost", "kind": "env.variable", "storage": "missing"},
        ],
        {},
    )
    with pytest.raises(AppLoadError) as info:
        load_app(tmp_path)
    messages = sorted(problem.message for problem in info.value.problems)
    assert messages == [
        "routers route to each other in a cycle",
        "routers route to each other in a cycle",
        "storage references unknown entry 'app:missing'",
        "storages references unknown entry 'app:nowhere'",
        "variable names contain only a-z, A-Z, 0-9 and _",
    ]


def test_events_reach_matching_subscribers_and_stop_after_close(tmp_path: Path) -> None:
    value = run(
        tmp_path,
        """
local events = require("events")
return function()
  local all = events.subscribe("orders.*")
  local created = events.subscribe("orders.eu", "order.created")
  local pid = process.spawn("app:publisher", "app:processes", process.pid())
  local got_all, got_created = {}, {}
  for _ = 1, 3 do
    local evt = all:channel():receive()
    got_all[#got_all + 1] = evt.kind .. " " .. evt.path .. " " .. tostring(evt.data and evt.data.id)
  end
  local evt = created:channel():receive()
  got_created[1] = evt.system .. " " .. evt.kind
  created:close()
  local _, ok_after = created:channel():receive()
  local _, bad = events.send("", "x", "/p")
  return {got_all, got_created, ok_after, bad:kind(), created:close()}
end
""",
        ["events"],
        [
            {
                "name": "publisher",
                "kind": "process.lua",
                "source": "file://publisher.lua",
                "modules": ["events"],
            }
        ],
        {
            "publisher.lua": """
local events = require("events")
return function(parent)
  events.send("orders.eu", "order.created", "/orders/1", {id = 1})
  events.send("payments", "paid", "/payments/1", {id = 9})       -- nobody listens to payments
  events.send("orders.us", "order.shipped", "/orders/2", {id = 2})
  events.send("orders.eu", "order.shipped", "/orders/3")         -- no data
end
"""
        },
    )
    assert value == [
        ["order.created /orders/1 1", "order.shipped /orders/2 2", "order.shipped /orders/3 nil"],
        ["orders.eu order.created"],
        False,
        "INVALID",
        True,
    ]


def test_registry_reads_entries_finds_by_selectors_and_applies_changes(tmp_path: Path) -> None:
    value = run(
        tmp_path,
        """
local registry = require("registry")
return function()
  local me = registry.get("app:main")
  local handlers = registry.find({["meta.type"] = "handler"})
  local prefixed = registry.find({["^meta.route"] = "/api", [".kind"] = "registry.entry"})
  local _, missing = registry.get("app:nope")
  local snap = registry.snapshot()
  local changes = snap:changes()
  changes:create({id = "app.dyn:hello", kind = "function.lua", meta = {type = "handler"},
                  data = {source = "return function(n) return 'hi ' .. n end", method = "main"}})
  changes:delete("app:old")
  local version, err = changes:apply()
  local _, refused = registry.snapshot():changes():create({id = "app:h2", kind = "process.host", data = {}}):apply()
  local _, stale = snap:changes():delete("app:cfg"):apply()
  return {me.kind, me.data.modules, #handlers, prefixed[1].id, prefixed[1].data.limit, missing:kind(),
          version and version:id(), err == nil, registry.get("app.dyn:hello").meta.type,
          registry.parse_id("app.lib:x").ns, refused:kind(), stale:kind(), #snap:entries(),
          registry.current_version():id()}
end
""",
        ["registry", "funcs"],
        [
            {
                "name": "cfg",
                "kind": "registry.entry",
                "meta": {"type": "handler", "route": "/api/users"},
                "limit": 5,
            },
            {"name": "old", "kind": "registry.entry", "meta": {"type": "handler"}},
        ],
    )
    assert value[:6] == ["process.lua", ["registry", "funcs"], 2, "app:cfg", 5, "NOT_FOUND"]
    assert value[6] == 2 and value[7] is True
    assert value[8:] == ["handler", "app.lib", "INVALID", "CONFLICT", 4, 2]


def test_a_function_created_through_the_registry_can_be_called(tmp_path: Path) -> None:
    value = run(
        tmp_path,
        """
local registry = require("registry")
local funcs = require("funcs")
return function()
  local changes = registry.snapshot():changes()
  changes:create({id = "app:hello", kind = "function.lua",
                  data = {source = "return function(n) return 'hi ' .. n end", method = "main"}})
  local _, err = changes:apply()
  local _, bad = registry.snapshot():changes()
    :create({id = "app:broken", kind = "function.lua", data = {source = "return function(", method = "main"}}):apply()
  return {err == nil, funcs.call("app:hello", "ada"), bad:kind()}
end
""",
        ["registry", "funcs"],
    )
    assert value == [True, "hi ada", "INVALID"]


def test_a_changeset_whose_base_was_overwritten_is_refused_as_invalid(tmp_path: Path) -> None:
    """A changeset is a plain Lua table: Lua code that overwrites its version gets INVALID, not Python text."""
    value = run(
        tmp_path,
        """
local registry = require("registry")
return function()
  local results = {}
  for _, base in ipairs({"seven", 1.5, true}) do
    local changes = registry.snapshot():changes()
    changes:create({id = "app:x", kind = "registry.entry", data = {}})
    changes._base = base
    local id, err = changes:apply()
    results[#results + 1] = id == nil and err:kind() .. ": " .. err:message()
  end
  return results
end
""",
        ["registry"],
    )
    message = "INVALID: changes:apply: the changeset is not one registry.changes() made"
    assert value == [message, message, message]


def test_cyclic_tables_in_a_changeset_are_refused_with_a_typed_error(tmp_path: Path) -> None:
    """A cyclic list given to changes:delete, or cyclic entry data, is an error at the caller's line
    or INVALID from apply: never a stack overflow inside the runtime."""
    value = run(
        tmp_path,
        """
local registry = require("registry")
return function()
  local loop = {}
  loop[1] = loop
  local changes = registry.snapshot():changes()
  local ok, deleted = pcall(function() changes:delete(loop) end)
  local ok_nil, nothing = pcall(function() changes:delete(nil) end)
  changes:delete({"app:a", {ns = "app", name = "b"}, {id = "app:c"}})
  local ids = {}
  for i, op in ipairs(changes:ops()) do ids[i] = op.entry end
  local data = registry.snapshot():changes()
  data:create({id = "app:x", kind = "registry.entry", data = {loop = loop}})
  local id, err = data:apply()
  return {ok, deleted, ok_nil, nothing, ids, id == nil, err:kind(), err:message()}
end
""",
        ["registry"],
    )
    assert value == [
        False,
        "main.lua:7: changes:delete: item 1 is not an entry ID or an entry (a list of lists is not one)",
        False,
        "main.lua:8: changes:delete: expected an entry ID, an entry or a list of them",
        ["app:a", "app:b", "app:c"],
        True,
        "INVALID",
        "value nested too deeply (or cyclic)",
    ]


def test_metrics_are_recorded_in_the_apps_collector(tmp_path: Path) -> None:
    entries = [
        HOST,
        {"name": "main", "kind": "process.lua", "source": "file://main.lua", "modules": ["metrics"]},
    ]
    write_app(
        tmp_path,
        entries,
        {
            "main.lua": """
local metrics = require("metrics")
return function()
  metrics.counter_inc("requests_total", {method = "POST"})
  metrics.counter_add("requests_total", 2, {method = "POST"})
  metrics.gauge_set("depth", 40)
  metrics.gauge_inc("depth")
  metrics.gauge_dec("depth")
  metrics.gauge_dec("depth")
  metrics.histogram("latency", 0.5)
  metrics.histogram("latency", 1.5)
  local _, bad = metrics.counter_add("requests_total", -1)
  local _, name = metrics.counter_inc("bad name")
  return {bad:kind(), name:kind()}
end
"""
        },
    )
    with App(tmp_path, extensions=[wippy_compat.install]) as app:
        assert app.exec("app:main", timeout=10) == ["INVALID", "INVALID"]
        rows = metrics_of(_by_node[app.node]).snapshot()
    assert rows == [
        {"type": "counter", "name": "requests_total", "labels": {"method": "POST"}, "value": 3},
        {"type": "gauge", "name": "depth", "labels": {}, "value": 39},
        {
            "type": "histogram",
            "name": "latency",
            "labels": {},
            "value": {"count": 2, "sum": 2.0, "min": 0.5, "max": 1.5},
        },
    ]


def test_system_reports_the_runtime_hosts_locks_and_what_it_cannot_do(tmp_path: Path) -> None:
    value = run(
        tmp_path,
        """
local system = require("system")
return function()
  local hosts = system.hosts.list()
  local procs = system.hosts.processes("app:processes")
  local got = system.lock.acquire("orders.migration")
  local again = system.lock.acquire("orders.migration")
  local other = process.exec("app:locker", "app:processes")
  local released = system.lock.release("orders.migration")
  local _, limit_err = system.memory.set_limit(1)
  local _, raft = system.raft.term()
  local _, missing = system.supervisor.state("app:nope")
  local mods = system.modules()
  local names = {}
  for _, m in ipairs(mods) do names[m.name] = true end
  return {hosts[1].id, procs[1].source, got, again, other, released, limit_err:kind(), raft:kind(),
          missing:kind(), names.sql and names.io and true, system.process.pid() > 0,
          system.runtime.cpu_count() >= 1, system.cluster.size(), system.node.role()}
end
""",
        ["system"],
        [{"name": "locker", "kind": "process.lua", "source": "file://locker.lua", "modules": ["system"]}],
        {
            "locker.lua": """
local system = require("system")
return function()
  local ok, err = system.lock.acquire("orders.migration")
  return tostring(ok) .. " " .. err:kind()
end
"""
        },
    )
    assert value == [
        "app:processes",
        "app:main",
        True,
        False,  # locks do not nest (Wippy's set-if-absent), the holder's second acquire included
        "false ALREADY_EXISTS",
        True,
        "INVALID",
        "INTERNAL",
        "NOT_FOUND",
        True,
        True,
        True,
        1,
        "non-member",
    ]
