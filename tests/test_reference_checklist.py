"""Rows of the spec's feature checklist (§15) that no other test covered, on a process host.

docs/workflow-features.md maps every row to its test.
"""

from __future__ import annotations

from pathlib import Path

from .lua_support import lua_entry, run_lua

CHILD = {
    "child.lua": "return {main = function(how) if how == 'crash' then error('bad child') end return how end}"
}


def test_spawn_linked_monitored_gives_exit_then_link_down(tmp_path: Path) -> None:
    result = run_lua(
        tmp_path,
        """
        return {main = function()
          process.set_options({trap_links = true})
          local events = process.events()
          local pid = process.spawn_linked_monitored("app:child", "app:processes", "crash")
          local first, second = events:receive(), events:receive()
          return {first.kind, second.kind, first.from == pid, second.from == pid,
                  second.result.error:message()}
        end}
        """,
        modules=(),
        extra=CHILD,
        extra_entries=[lua_entry("child")],
    )
    assert result == ["pid.exit", "pid.link.down", True, True, "child.lua:1: bad child"]


def test_with_actor_and_with_scope_are_accepted_on_a_runtime_without_policies(tmp_path: Path) -> None:
    result = run_lua(
        tmp_path,
        """
        return {main = function()
          local spawner = process.with_context({}):with_actor({id = "user-1"}):with_scope({"admin"})
          local value = process.exec("app:child", "app:processes", "ran")
          local pid = spawner:spawn_monitored("app:child", "app:processes", "spawned")
          local event = process.events():receive()
          return {value, event.from == pid, event.result.value}
        end}
        """,
        modules=(),
        extra=CHILD,
        extra_entries=[lua_entry("child")],
    )
    assert result == ["ran", True, "spawned"]


def test_registry_scopes_exist_and_are_all_local_on_one_node(tmp_path: Path) -> None:
    result = run_lua(
        tmp_path,
        """
        return {main = function()
          local r = process.registry
          local ok = r.register("strong-name", process.pid(), r.STRONG)
          return {r.LOCAL, r.EVENTUAL, r.CONSISTENT, r.STRONG, ok,
                  r.lookup("strong-name") == process.pid(), r.unregister("strong-name", r.STRONG)}
        end}
        """,
        modules=(),
    )
    assert result == [0, 1, 2, 3, True, True, True]
