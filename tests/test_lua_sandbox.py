"""Lua is untrusted: no Python, no filesystem, no OS, only listed modules, a memory cap."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from actorflow.app import App
from actors import Error, Probe, errors
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


def test_no_python_object_reaches_lua_a_channel_is_a_handle_of_its_own_program(tmp_path: Path) -> None:
    """A channel is an integer its program's driver maps (lupa 2.8 with Lua 5.5 can hand Lua
    another Python object than the one pushed, lupa issue 294); a made-up handle is refused."""
    result = run_lua(
        tmp_path,
        """
        return {main = function()
          local ch = channel.new(1)
          local handle = rawget(ch, "_h")
          local ok1, e1 = pcall(function() return handle.__class__ end)
          local forged = channel.new(1)
          rawset(forged, "_h", handle + 1000)
          local ok2, e2 = pcall(function() return forged:send(1) end)
          return {math.type(handle), ok1, ok2, tostring(e2)}
        end}
        """,
    )
    assert result[0] == "integer"
    assert result[1] is False
    assert result[2] is False and "expected a channel" in result[3]


def test_a_handle_taken_from_another_process_reaches_none_of_its_channels(tmp_path: Path) -> None:
    """Two processes in one Lua state: B uses the handle number of A's channel; A's channel
    gets nothing (handles are per program: B reaches, at most, its own channel)."""
    entries = [HOST, lua_entry("a"), lua_entry("b")]
    files = {
        "a.lua": """
        return {main = function()
          local mine = channel.new(1)
          local b = process.spawn("app:b", "app:processes", process.pid(), rawget(mine, "_h"))
          local done = process.listen("done")
          local outcome = done:receive()
          local sel = channel.select({mine:case_receive()}, true)
          return {outcome, sel.default == true}
        end}
        """,
        "b.lua": """
        return {main = function(a, handle)
          local own = channel.new(5)
          rawset(own, "_h", handle)
          local ok = pcall(function() own:send("stolen") end)
          process.send(a, "done", ok and "sent to its own" or "refused")
        end}
        """,
    }
    write_app(tmp_path, entries, files)
    with App(tmp_path, extensions=[], lua_states=1) as app:
        outcome, a_channel_empty = app.exec("app:a", timeout=10)
    assert outcome in ("sent to its own", "refused")
    assert a_channel_empty is True


def test_only_listed_modules_can_be_required(tmp_path: Path) -> None:
    result = run_lua(
        tmp_path,
        """
        return {main = function()
          local ok1, e1 = pcall(require, "funcs")
          local ok2, e2 = pcall(require, "teleport")
          local time = require("time")
          return {ok1, e1, ok2, e2, type(time.sleep)}
        end}
        """,
        modules=("time",),
    )
    assert result[0] is False and "not allowed" in result[1] and "modules list" in result[1]
    assert result[2] is False and "does not exist" in result[3]
    assert result[4] == "function"


def test_no_process_can_change_what_another_sees(tmp_path: Path) -> None:
    """Lua processes share states: libraries are read-only views, globals are per process."""
    app_dir = write_app(
        tmp_path,
        [HOST, lua_entry("tamper"), lua_entry("observe")],
        {
            "tamper.lua": """
            return {main = function()
              local results = {}
              results[1] = pcall(function() string.upper = function() return "hacked" end end)
              results[2] = pcall(function() getmetatable("").__index.upper = function() return "hacked" end end)
              results[3] = pcall(function() process.registry.lookup = function() end end)
              results[4] = pcall(function() rawset(string, "upper", function() return "hacked" end) end)
              results[5] = pcall(function() setmetatable(string, {}) end)
              results[6] = getmetatable("") == false
              shared_global = "leaked?"
              _G.another = "leaked?"
              return results
            end}
            """,
            "observe.lua": """
            return {main = function()
              return {("x"):upper(), string.upper("y"), shared_global == nil, another == nil,
                      type(process.registry.lookup)}
            end}
            """,
        },
    )
    with App(app_dir, extensions=[], lua_states=1) as app:
        assert app.exec("app:tamper", timeout=5) == [False, False, False, True, False, True]
        assert app.exec("app:observe", timeout=5) == ["X", "Y", True, True, "function"]
        assert app.lua_pool is not None and app.lua_pool.states() == 1  # they did share one


def test_shared_tables_do_not_leak_through_pairs_metatables_or_coroutines(tmp_path: Path) -> None:
    """Attacks that once reached a table shared by every process of a Lua state."""
    app_dir = write_app(
        tmp_path,
        [HOST, lua_entry("tamper", modules=("time", "logger")), lua_entry("observe", modules=("time",))],
        {
            "tamper.lua": """
            local time = require("time")
            return {main = function()
              local results = {}
              local function try(fn) local ok = pcall(fn) results[#results + 1] = ok end
              -- pairs() over a library view used to hand out the real table as its state
              try(function() local _, s = pairs(string) s.upper = function() return "hacked" end end)
              try(function() local _, e = pairs(errors) e.NOT_FOUND = "OWNED" end)
              try(function()
                for k, v in pairs(process) do if k == "registry" then v.lookup = function() end end end
              end)
              -- object.__index used to be the class table itself
              try(function() channel.new(1).__index.send = function() return "hacked" end end)
              try(function() errors.new("x").__index.message = function() return "hacked" end end)
              try(function() getmetatable(time.timer("1h")).stop = nil end)
              -- lupa's metatable of Python objects
              try(function() getmetatable(rawget(channel.new(1), "_h")).__index = nil end)
              -- a process's main coroutine, resumed from one of its tasks
              local main = coroutine.running()
              local resumed = channel.new(1)
              coroutine.spawn(function() resumed:send({coroutine.resume(main)}) end)
              local got = resumed:receive()
              results[#results + 1] = got[1]
              results[#results + 1] = got[2]
              return results
            end}
            """,
            "observe.lua": """
            local time = require("time")
            return {main = function()
              local ch = channel.new(1)
              ch:send("through")
              local timer = time.timer("1h")
              local stopped = timer:stop()
              return {("x"):upper(), errors.NOT_FOUND, type(process.registry.lookup), ch:receive(),
                      errors.new("m"):message(), stopped}
            end}
            """,
        },
    )
    with App(app_dir, extensions=[], lua_states=1) as app:
        assert app.exec("app:tamper", timeout=5) == [
            False, False, False, False, False, False, False,
            False, "cannot resume a coroutine the runtime runs (a process or coroutine.spawn task)",
        ]  # fmt: skip
        assert app.exec("app:observe", timeout=5) == ["X", "NOT_FOUND", "function", "through", "m", True]
        assert app.lua_pool is not None and app.lua_pool.states() == 1


def test_rawset_on_library_objects_changes_nothing_for_the_other_processes(tmp_path: Path) -> None:
    """rawset ignores read-only metatables: every object a process reaches through a library
    (constants, time.utc and time.localtz, the registry levels) is its own copy or view."""
    app_dir = write_app(
        tmp_path,
        [HOST, lua_entry("tamper", modules=("time",)), lua_entry("observe", modules=("time",))],
        {
            "tamper.lua": """
            local time = require("time")
            return {main = function()
              rawset(process.event, "EXIT", "hacked")
              rawset(time.utc, "_zone", "Asia/Tokyo")
              rawset(time.utc, "_name", "hacked")
              rawset(time.localtz, "_zone", "Asia/Tokyo")
              rawset(process.registry, "LOCAL", 99)
              rawset(time, "SECOND", 1)
              rawset(errors, "NOT_FOUND", "hacked")
              for key, value in pairs(time) do
                if key == "utc" then rawset(value, "_zone", "Asia/Tokyo") end
              end
              local shared = require("time")
              rawset(shared.utc, "_zone", "Asia/Tokyo")
              return {process.event.EXIT, time.utc:string(), process.registry.LOCAL}
            end}
            """,
            "observe.lua": """
            local time = require("time")
            return {main = function()
              local t = time.date(2020, 1, 2, 3, 4, 5, 0, time.utc)
              return {process.event.EXIT, process.event.LINK_DOWN, time.utc:string(), t:hour(),
                      t:in_location(time.utc):format("15:04 MST"), process.registry.LOCAL,
                      time.SECOND, errors.NOT_FOUND, require("time").utc:string()}
            end}
            """,
        },
    )
    with App(app_dir, extensions=[], lua_states=1) as app:
        assert app.exec("app:tamper", timeout=5) == ["hacked", "hacked", 99]  # its own copies only
        assert app.exec("app:observe", timeout=5) == [
            "pid.exit", "pid.link.down", "UTC", 3, "03:04 UTC", 0, 1_000_000_000, "NOT_FOUND", "UTC",
        ]  # fmt: skip
        assert app.lua_pool is not None and app.lua_pool.states() == 1


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


def test_memory_bomb_in_a_shared_state_kills_only_the_bomb(tmp_path: Path) -> None:
    app_dir = write_app(
        tmp_path,
        [HOST, lua_entry("hog"), lua_entry("bystander")],
        {
            "hog.lua": """
            return {main = function()
              local t = {}
              for i = 1, 1e9 do t[i] = string.rep("x", 1000) .. i end
            end}
            """,
            "bystander.lua": """
            return {main = function()
              local got = process.inbox():receive()
              return "still here: " .. got:payload():data()
            end}
            """,
        },
    )
    with App(app_dir, extensions=[], lua_state_memory=16 * 1024 * 1024, lua_states=1) as app:
        assert app.node is not None
        bystander = app.spawn("app:bystander")
        with pytest.raises(Error) as info:
            app.exec("app:hog", timeout=30)
        assert info.value.kind() == errors.LIMIT_EXCEEDED
        assert app.node.is_alive(bystander)
        app.node.send(bystander, "ping", "yes")
        assert app.node.wait(bystander, 5) == ("still here: yes", None)


def test_syntax_error_names_entry_file_and_line_before_anything_starts(tmp_path: Path) -> None:
    from actors.entries import AppLoadError

    with pytest.raises(AppLoadError) as info:
        run_lua(tmp_path, "return {main = function()\n  local x = \nend}")
    assert info.value.kind() == errors.INVALID
    assert [str(problem) for problem in info.value.problems] == [
        "app.yaml:7: app:main: Lua syntax error: main.lua:3: unexpected symbol near 'end'"
    ]


def test_runtime_error_has_file_and_line_for_monitors_and_links(tmp_path: Path) -> None:
    from actors import Probe

    app_dir = write_app(
        tmp_path,
        [HOST, lua_entry("boom")],
        {"boom.lua": "return {main = function()\n  error('kaboom')\nend}"},
    )
    with App(app_dir, extensions=[]) as app:
        assert app.node is not None
        with Probe(app.node, trap_links=True) as probe:
            pid = probe.spawn("app:boom", link=True, monitor=True)
            assert probe.expect_exit(pid).error.message() == "boom.lua:2: kaboom"  # type: ignore[union-attr]
            assert probe.expect_link_down(pid).error.message() == "boom.lua:2: kaboom"  # type: ignore[union-attr]


def test_missing_method_is_reported(tmp_path: Path) -> None:
    with pytest.raises(Error) as info:
        run_lua(tmp_path, "return {other = function() end}")
    # found when the app loads (file, line, entry), before anything runs
    assert "app.yaml:7: app:main: method 'main' is not defined in main.lua" in info.value.message()


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
    orders = {LuaState().lua.execute(source) for _ in range(5)}
    assert len(orders) == 1


REFUSALS = {
    "python.eval": ("return python.eval('1 + 1')", "attempt to index a nil value (global 'python')"),
    "python.builtins": ("return python.builtins.open", "attempt to index a nil value (global 'python')"),
    "io.open": ("return io.open('/etc/passwd')", "attempt to index a nil value (global 'io')"),
    "os.execute": ("return os.execute('true')", "attempt to call a nil value (field 'execute')"),
    "require unlisted": ("return require('funcs')", "module 'funcs' is not allowed"),
    "binary chunk": (
        "return assert(load('\\27LuaT\\0\\25'))",
        "attempt to load a binary chunk (mode is 't')",
    ),
    "string.dump": ("return string.dump(print)", "attempt to call a nil value (field 'dump')"),
    "debug": ("return debug.getinfo(1)", "attempt to index a nil value (global 'debug')"),
    # a channel is a handle (an integer), never a Python object: nothing to explore
    "python attributes": ("return rawget(channel.new(1), '_h').__class__", "attempt to index a number value"),
    "string.upper": ("string.upper = function() end", "string is read-only"),
    # it would run when the collector chose, inside whichever process was running
    "__gc finalizer": ("return setmetatable({}, {__gc = function() end})", "__gc finalizers are not allowed"),
}


@pytest.mark.parametrize("name", sorted(REFUSALS))
def test_each_escape_is_refused_with_a_clear_error(tmp_path: Path, name: str) -> None:
    snippet, expected = REFUSALS[name]
    source = (
        "return {main = function()\n  local ok, err = pcall(function() "
        + snippet
        + " end)\n  return {ok, tostring(err)}\nend}"
    )
    ok, message = run_lua(tmp_path, source, modules=("time",))
    assert ok is False
    assert expected in message


def test_a_value_too_big_for_the_state_is_refused_not_pushed(tmp_path: Path) -> None:
    """Lua aborts the OS process when an allocation made for Python fails: values that
    might not fit under the cap are refused with LIMIT_EXCEEDED before they are pushed."""
    app_dir = write_app(
        tmp_path,
        [HOST, lua_entry("big", modules=("crypto",)), lua_entry("bystander")],
        {
            "big.lua": """
            local crypto = require("crypto")
            return {main = function(mode)
              -- Waiting for the message, it holds less than 3/4 of the cap: over that, the pool
              -- would end it after its slice as the state's hog (limits, defect 10).
              local hold = string.rep("h", (mode == "message" and 40 or 50) * 1024 * 1024)
              if mode == "message" then  -- a message from outside, bigger than the room left
                return {pcall(function() return process.inbox():receive() end)}
              elseif mode == "callback" then  -- an operation from a C boundary: a direct call
                return {pcall(table.sort, {2, 1}, function(a, b)
                  crypto.random_bytes(15 * 1024 * 1024)
                  return a < b
                end)}
              end
              return {pcall(crypto.random_bytes, 600000000)}
            end}
            """,
            "bystander.lua": """
            return {main = function()
              return "still here: " .. process.inbox():receive():payload():data()
            end}
            """,
        },
    )
    with App(app_dir, extensions=[], lua_state_memory=64 * 1024 * 1024, lua_states=1) as app:
        assert app.node is not None
        bystander = app.spawn("app:bystander")
        big = app.spawn("app:big", "message")
        app.node.send(big, "big", "x" * (30 * 1024 * 1024))
        (ok, err), error = app.node.wait(big, 30)
        assert error is None and ok is False and err.kind() == errors.LIMIT_EXCEEDED
        ok, err = app.exec("app:big", "callback", timeout=30)
        assert ok is False and err.kind() == errors.LIMIT_EXCEEDED
        ok, err = app.exec("app:big", "random", timeout=30)
        assert (ok, err.kind()) == (False, errors.INVALID)
        assert "crypto.random_bytes: count must be an integer from 0 to 16777216" in err.message()
        app.node.send(bystander, "ping", "yes")
        assert app.node.wait(bystander, 5) == ("still here: yes", None)
        assert app.lua_pool is not None and app.lua_pool.states() == 1


@pytest.mark.parametrize("mode", ["plain", "pcall", "xpcall", "coroutine", "task"])
def test_a_lua_loop_that_never_waits_can_still_be_terminated(tmp_path: Path, mode: str) -> None:
    """The watchdog ends a terminated process's loop, whatever tries to catch it; the other
    processes of its Lua state (and of its one worker) run on."""
    app_dir = write_app(
        tmp_path,
        [{**HOST, "host": {"workers": 1}}, lua_entry("loop"), lua_entry("fine")],
        {
            "loop.lua": """
            return {main = function(mode, observer)
              local told = false
              local function entered()  -- once, just before a loop that never waits
                if not told then told = true process.send(observer, "looping") end
              end
              if mode == "pcall" then
                while true do pcall(function() entered() while true do end end) end
              elseif mode == "xpcall" then
                while true do xpcall(function() entered() while true do end end, function() return "caught" end) end
              elseif mode == "coroutine" then
                local co = coroutine.create(function() entered() while true do end end)
                while true do coroutine.resume(co) end
              elseif mode == "task" then
                coroutine.spawn(function() entered() while true do end end)
                process.inbox():receive()
              end
              entered()
              while true do end
            end}
            """,
            "fine.lua": "return {main = function() return 'fine' end}",
        },
    )
    with App(app_dir, extensions=[], lua_states=1) as app:
        assert app.node is not None
        with Probe(app.node, default_timeout=10) as probe:
            looping = probe.spawn("app:loop", mode, str(probe.pid), monitor=True)
            probe.expect_message("looping", sender=looping)  # it sends nothing else: it is in its loop
            app.node.terminate(looping)
            event = probe.expect_exit(looping, timeout=5)
            assert event.error is not None and event.error.message() == "process terminated"
            assert app.exec("app:fine", timeout=5) == "fine"
            deadline = probe.spawn("app:loop", "plain", str(probe.pid), monitor=True)
            probe.expect_message("looping", sender=deadline)
            started = time.monotonic()
            app.node.cancel(deadline, deadline=0.3)  # it never reads the CANCEL: the deadline ends it
            probe.expect_exit(deadline, timeout=5)
            assert 0.3 <= time.monotonic() - started < 3


def test_exec_with_a_timeout_terminates_a_program_that_runs_on(tmp_path: Path) -> None:
    app_dir = write_app(
        tmp_path, [HOST, lua_entry("spin")], {"spin.lua": "return {main = function() while true do end end}"}
    )
    with App(app_dir, extensions=[]) as app:
        assert app.node is not None
        started = time.monotonic()
        with pytest.raises(Error) as info:
            app.exec("app:spin", timeout=0.5)
        assert info.value.kind() == errors.TIMEOUT and info.value.message().endswith("terminated")
        assert time.monotonic() - started < 3
        deadline = time.monotonic() + 5
        while app.node.process_count() > 0:
            assert time.monotonic() < deadline, "the program still runs"
            time.sleep(0.01)
