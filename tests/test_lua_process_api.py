"""The Lua ``process`` API on a process host: messages, spawning, links, events, names."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from actorflow.app import App
from actors import PID, Error, Probe, errors

from .lua_support import HOST, lua_entry, run_lua, write_app

ECHO = """
local function main(reply_to)
  local inbox = process.inbox()
  while true do
    local msg = inbox:receive()
    if msg:topic() == "stop" then return "stopped" end
    if msg:topic() == "crash" then error("echo crashed") end
    local payload = msg:payload()
    local data = nil
    if getmetatable(payload) == "payload" then data = payload:data() end
    process.send(reply_to or msg:from(), "echo", {topic = msg:topic(), data = data, from = msg:from()})
  end
end
return {main = main}
"""


def test_pid_and_entry_id(tmp_path: Path) -> None:
    result = run_lua(
        tmp_path,
        """
        return {main = function()
          local pid = process.pid()
          return {pid = pid, same = pid == process.pid(), id = process.id()}
        end}
        """,
    )
    assert result["pid"].startswith("{app:processes|0x")
    assert result["same"] is True
    assert result["id"] == "app:main"


def test_inbox_messages_have_topic_sender_and_payload(tmp_path: Path) -> None:
    result = run_lua(
        tmp_path,
        """
        return {main = function()
          local echo = process.spawn("app:echo", "app:processes")
          local replies = process.listen("echo")
          process.send(echo, "greet", {name = "ada"})
          process.send(echo, "nothing")
          local a = replies:receive()
          local c = replies:receive()
          process.send(echo, "stop")
          return {a = a, c = c, me = process.pid()}
        end}
        """,
        extra={"echo.lua": ECHO},
        extra_entries=[lua_entry("echo")],
    )
    assert result["a"]["topic"] == "greet"
    assert result["a"]["data"] == {"name": "ada"}
    assert result["a"]["from"] == result["me"]
    assert result["c"]["topic"] == "nothing"
    assert "data" not in result["c"]


def test_multiple_payloads_arrive_as_payload_list(tmp_path: Path) -> None:
    result = run_lua(
        tmp_path,
        """
        return {main = function()
          process.send(process.pid(), "many", 1, "two", {3})
          local msg = process.inbox():receive()
          local payloads = msg:payload()
          return {#payloads, payloads[1]:data(), payloads[2]:data(), payloads[3]:data()[1], tostring(msg)}
        end}
        """,
    )
    assert result == [3, 1, "two", 3, "process.Message{topic=many}"]


def test_listen_raw_and_message_mode(tmp_path: Path) -> None:
    result = run_lua(
        tmp_path,
        """
        return {main = function()
          local raw = process.listen("raw")
          local full = process.listen("full", {message = true})
          process.send(process.pid(), "raw", {v = 1})
          process.send(process.pid(), "full", {v = 2})
          local data = raw:receive()
          local msg = full:receive()
          return {data.v, msg:payload():data().v, msg:from() == process.pid(), raw == process.listen("raw")}
        end}
        """,
    )
    assert result == [1, 2, True, True]


def test_reserved_topics_and_bad_sends_return_errors(tmp_path: Path) -> None:
    result = run_lua(
        tmp_path,
        """
        return {main = function()
          local _, e1 = process.send(process.pid(), "@inbox", 1)
          local ch, e2 = process.listen("@events")
          local _, e3 = process.send("nobody-by-that-name", "hi")
          local _, e4 = process.send(process.pid())
          return {e1:kind(), ch == nil, e2:kind(), e3:kind(), e4:kind()}
        end}
        """,
    )
    assert result == [errors.INVALID, True, errors.INVALID, errors.NOT_FOUND, errors.INVALID]


def test_unrouted_messages_wait_until_a_listener_appears(tmp_path: Path) -> None:
    result = run_lua(
        tmp_path,
        """
        local time = require("time")
        return {main = function()
          process.send(process.pid(), "late", "first")
          process.send(process.pid(), "late", "second")
          time.sleep("20ms")
          local ch = process.listen("late")
          local first = ch:receive()
          local second = ch:receive()
          return {first, second}
        end}
        """,
    )
    assert result == ["first", "second"]


def test_spawn_monitored_gets_exit_with_value_and_error(tmp_path: Path) -> None:
    result = run_lua(
        tmp_path,
        """
        return {main = function()
          local events = process.events()
          local ok_pid = process.spawn_monitored("app:child", "app:processes", "fine")
          local e1 = events:receive()
          local bad_pid = process.spawn_monitored("app:child", "app:processes", "crash")
          local e2 = events:receive()
          return {
            e1.kind == process.event.EXIT, e1.from == ok_pid, e1.result.value, e1.result.error == nil,
            e2.from == bad_pid, e2.result.error:kind(), e2.result.error:message(), type(e1.at),
          }
        end}
        """,
        extra={
            "child.lua": """
            return {main = function(mode)
              if mode == "crash" then error("child failed") end
              return "child says " .. mode
            end}
            """
        },
        extra_entries=[lua_entry("child")],
    )
    assert result[:4] == [True, True, "child says fine", True]
    assert result[4] is True
    assert result[5] == errors.INTERNAL
    assert result[6].endswith("child.lua:3: child failed")
    assert result[7] == "number"


def test_trap_links_gives_link_down_and_without_it_the_process_dies(tmp_path: Path) -> None:
    trapping = run_lua(
        tmp_path / "trap",
        """
        return {main = function()
          process.set_options({trap_links = true})
          local events = process.events()
          local pid = process.spawn_linked("app:child", "app:processes")
          local ev = events:receive()
          return {ev.kind, ev.from == pid, ev.result.error:message(), process.get_options().trap_links}
        end}
        """,
        extra={
            "child.lua": "return {main = function() error({message = 'bad child', kind = 'CONFLICT'}) end}"
        },
        extra_entries=[lua_entry("child")],
    )
    assert trapping == ["pid.link.down", True, "bad child", True]
    with pytest.raises(Error) as info:
        run_lua(
            tmp_path / "die",
            """
            return {main = function()
              process.spawn_linked("app:child", "app:processes")
              process.inbox():receive()  -- never arrives: the link kills us first
            end}
            """,
            extra={"child.lua": "return {main = function() error('bad child') end}"},
            extra_entries=[lua_entry("child")],
        )
    assert info.value.message() == "linked process failed"


def test_set_options_validation(tmp_path: Path) -> None:
    result = run_lua(
        tmp_path,
        """
        return {main = function()
          local ok1, e1 = process.set_options({trap_links = "yes"})
          local ok2, e2 = process.set_options({bogus = true, trap_links = true})
          local ok3, e3 = process.set_options("nope")
          return {ok1, e1:message(), ok2, e2:message(), process.get_options().trap_links, ok3, e3:kind()}
        end}
        """,
    )
    assert result == [
        False,
        "trap_links must be a boolean",
        False,
        "option bogus is not supported",
        True,
        False,
        errors.INVALID,
    ]


def test_monitor_link_errors_and_unmonitor(tmp_path: Path) -> None:
    result = run_lua(
        tmp_path,
        """
        local time = require("time")
        return {main = function()
          local events = process.events()
          local pid = process.spawn_monitored("app:child", "app:processes")
          events:receive()
          local _, e1 = process.monitor(pid)   -- dead now
          local _, e2 = process.link(pid)
          local live = process.spawn("app:sleeper", "app:processes")
          local ok = process.monitor(live)
          local _, e3 = process.monitor(live)  -- twice
          process.unmonitor(live)
          process.terminate(live)
          local timeout = time.after("100ms")
          local r = channel.select{events:case_receive(), timeout:case_receive()}
          return {e1:kind(), e2:kind(), ok, e3:kind(), r.channel == timeout}
        end}
        """,
        extra={
            "child.lua": "return {main = function() return 1 end}",
            "sleeper.lua": "return {main = function() process.inbox():receive() end}",
        },
        extra_entries=[lua_entry("child"), lua_entry("sleeper")],
    )
    assert result == [errors.NOT_FOUND, errors.NOT_FOUND, True, errors.ALREADY_EXISTS, True]


def test_terminate_and_cancel_from_lua(tmp_path: Path) -> None:
    result = run_lua(
        tmp_path,
        """
        return {main = function()
          local events = process.events()
          local a = process.spawn_monitored("app:sleeper", "app:processes")
          process.terminate(a)
          local ea = events:receive()
          local b = process.spawn_monitored("app:polite", "app:processes")
          process.cancel(b, "5s")
          local eb = events:receive()
          local c = process.spawn_monitored("app:sleeper", "app:processes")
          process.cancel(c, 50)  -- milliseconds: terminated when the deadline passes
          local ec = events:receive()
          local _, dead = process.terminate(a)
          return {ea.result.error:message(), eb.result.value, ec.result.error:message(), dead:kind()}
        end}
        """,
        extra={
            "sleeper.lua": "return {main = function() process.inbox():receive() end}",
            "polite.lua": """
            return {main = function()
              local ev = process.events():receive()
              return {kind = ev.kind, deadline = ev.deadline ~= nil}
            end}
            """,
        },
        extra_entries=[lua_entry("sleeper"), lua_entry("polite")],
    )
    assert result[0] == "process terminated"
    assert result[1] == {"kind": "pid.cancel", "deadline": True}
    assert result[2] == "process terminated"
    assert result[3] == errors.NOT_FOUND


def test_registry_names(tmp_path: Path) -> None:
    result = run_lua(
        tmp_path,
        """
        return {main = function()
          local ok = process.registry.register("me")
          local again = process.registry.register("me")
          local found = process.registry.lookup("me")
          local child = process.spawn("app:sleeper", "app:processes")
          local _, taken = process.registry.register("me", child)
          process.send("me", "to-myself", "via name")
          local msg = process.inbox():receive()
          local removed = process.registry.unregister("me")
          local removed_again = process.registry.unregister("me")
          local _, missing = process.registry.lookup("me")
          process.terminate(child)
          return {ok, again, found == process.pid(), taken:kind(), msg:payload():data(), removed, removed_again, missing:kind()}
        end}
        """,
        extra={"sleeper.lua": "return {main = function() process.inbox():receive() end}"},
        extra_entries=[lua_entry("sleeper")],
    )
    assert result == [True, True, True, errors.ALREADY_EXISTS, "via name", True, False, errors.NOT_FOUND]


def test_spawner_builder_name_messages_and_context(tmp_path: Path) -> None:
    result = run_lua(
        tmp_path,
        """
        return {main = function()
          local base = process.with_context({tenant = "t1"})
          local spawner = base:with_name("counter"):with_message("add", 2):with_message("add", 3)
          local pid = spawner:spawn("app:counter", "app:processes", process.pid())
          local again = base:with_name("counter"):with_message("add", 10):spawn("app:counter", "app:processes", "ignored")
          process.send(pid, "report")
          local report = process.listen("total"):receive()
          local _, bad = pcall(function() return process.with_options({}):with_name("") end)
          return {pid == again, report.total, report.tenant, report.first_from, bad ~= nil}
        end}
        """,
        extra={
            "counter.lua": """
            local ctx = require("ctx")
            return {main = function(reply_to)
              local inbox = process.inbox()
              local total, first_from = 0, nil
              while true do
                local msg = inbox:receive()
                if msg:topic() == "add" then
                  total = total + msg:payload():data()
                  first_from = first_from or msg:from()
                else
                  process.send(reply_to, "total", {total = total, tenant = ctx.get("tenant"), first_from = first_from})
                  return total
                end
              end
            end}
            """
        },
        extra_entries=[lua_entry("counter", modules=("ctx",))],
    )
    assert result == [True, 15, "t1", "", True]


def test_exec_runs_to_completion_and_returns_value_or_error(tmp_path: Path) -> None:
    result = run_lua(
        tmp_path,
        """
        return {main = function()
          local v = process.exec("app:child", "app:processes", 20)
          local _, err = process.exec("app:child", "app:processes", -1)
          local _, bad = process.exec("child", "app:processes")
          return {v, err:kind(), err:message(), bad:kind()}
        end}
        """,
        extra={
            "child.lua": """
            return {main = function(n)
              if n < 0 then return nil, errors.new({kind = errors.INVALID, message = "negative"}) end
              return n + 1
            end}
            """
        },
        extra_entries=[lua_entry("child")],
    )
    assert result == [21, errors.INVALID, "negative", errors.INVALID]


def test_result_conventions(tmp_path: Path) -> None:
    app_dir = write_app(
        tmp_path,
        [
            HOST,
            lua_entry("string_error"),
            lua_entry("object_error"),
            lua_entry("raised"),
            lua_entry("raised_object"),
        ],
        {
            "string_error.lua": "return {main = function() return 1, 'plain message' end}",
            "object_error.lua": (
                "return {main = function() return nil, errors.new({kind = errors.TIMEOUT, "
                "message = 'slow', retryable = true}) end}"
            ),
            "raised.lua": "return {main = function()\n  local x = nil\n  return x.field\nend}",
            "raised_object.lua": "return {main = function() error(errors.new({kind = 'CONFLICT', message = 'c'})) end}",
        },
    )
    with App(app_dir, extensions=[]) as app:
        outcomes = {}
        for name in ("string_error", "object_error", "raised", "raised_object"):
            with pytest.raises(Error) as info:
                app.exec(f"app:{name}", timeout=5)
            outcomes[name] = info.value
    assert (outcomes["string_error"].kind(), outcomes["string_error"].message()) == (
        errors.INTERNAL,
        "plain message",
    )
    assert outcomes["string_error"].retryable() is False
    assert (outcomes["object_error"].kind(), outcomes["object_error"].retryable()) == (errors.TIMEOUT, True)
    assert outcomes["raised"].kind() == errors.INTERNAL
    assert outcomes["raised"].message().startswith("raised.lua:3: attempt to index a nil value")
    assert outcomes["raised_object"].kind() == errors.CONFLICT


def test_uncaught_error_in_a_spawned_coroutine_ends_the_process(tmp_path: Path) -> None:
    with pytest.raises(Error) as info:
        run_lua(
            tmp_path,
            """
            return {main = function()
              coroutine.spawn(function() error("side task exploded") end)
              process.inbox():receive()
            end}
            """,
        )
    assert "side task exploded" in info.value.message()


def test_a_process_that_never_waits_still_lets_others_on_its_host_run(tmp_path: Path) -> None:
    """Erlang's reductions: after a budget of operations a Lua process gives its host back,
    so on a single worker its receiver starts before the sender has finished sending."""
    app_dir = write_app(
        tmp_path,
        [{**HOST, "host": {"workers": 1}}, lua_entry("sender"), lua_entry("receiver")],
        {
            "sender.lua": """
            return {main = function(target, report)
              for i = 1, 10000 do process.send(target, "n", i) end  -- never waits
              process.send(report, "sender done")
            end}
            """,
            "receiver.lua": """
            return {main = function(report)
              local inbox = process.inbox()
              inbox:receive()
              process.send(report, "receiver ran")
              for _ = 2, 10000 do inbox:receive() end
              process.send(report, "receiver done")
            end}
            """,
        },
    )
    with App(app_dir, extensions=[]) as app:
        assert app.node is not None
        with Probe(app.node, default_timeout=10) as probe:
            target = probe.spawn("app:receiver", str(probe.pid))
            probe.spawn("app:sender", str(target), str(probe.pid))
            seen = [probe.expect_message().topic for _ in range(3)]
    assert seen[0] == "receiver ran" and sorted(seen[1:]) == ["receiver done", "sender done"]


def test_a_task_spawned_where_nothing_can_yield_still_runs(tmp_path: Path) -> None:
    """coroutine.spawn inside a gsub callback (no yield possible there), before the
    process ever waited: the task runs once the main task waits."""
    result = run_lua(
        tmp_path,
        """
        return {main = function()
          local ch = channel.new(1)
          local replaced = string.gsub("a", "a", function()
            coroutine.spawn(function() ch:send("from the task") end)
            return "b"
          end)
          local value = ch:receive()
          return {replaced, value}
        end}
        """,
    )
    assert result == ["b", "from the task"]


class _SlowPeer:
    """A peer host whose deliveries wait (as a signal to a workflow waits on Temporal)."""

    id = "slow"
    in_memory = False

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()
        self.delivered: list[tuple[Any, ...]] = []

    def deliver(self, pid: PID, item: tuple[Any, ...]) -> bool:
        self.entered.set()
        self.release.wait(10)
        self.delivered.append(item)
        return True

    def spawn(self, request: Any) -> PID:
        raise Error(errors.INVALID, "not here")

    def watch(self, pid: PID, callback: Any) -> None:
        pass

    def is_alive(self, pid: PID) -> bool:
        return True

    def start(self) -> None:
        pass

    def stop(self, timeout: float) -> None:
        self.release.set()


def test_a_send_that_waits_on_io_does_not_hold_up_the_processes_sharing_its_lua_state(
    tmp_path: Path,
) -> None:
    """Operations are done without leaving Lua when they only touch memory; a send to a
    peer that waits (Temporal) is yielded instead, so the Lua state stays free meanwhile."""
    app_dir = write_app(
        tmp_path,
        [HOST, lua_entry("caller"), lua_entry("other")],
        {
            "caller.lua": """
            return {main = function(report)
              process.send("{slow@far|0x00001}", "ping", 1)
              process.send(report, "sent")
            end}
            """,
            "other.lua": """
            return {main = function(report) process.send(report, "other ran") end}
            """,
        },
    )
    peer = _SlowPeer()
    with App(app_dir, extensions=[], lua_states=1) as app:  # one Lua state for both
        assert app.node is not None
        app.node.add_peer("slow", peer)
        with Probe(app.node, default_timeout=5) as probe:
            probe.spawn("app:caller", str(probe.pid))
            assert peer.entered.wait(5)
            probe.spawn("app:other", str(probe.pid))
            assert probe.expect_message(timeout=3).topic == "other ran"  # while the caller waits
            peer.release.set()
            assert probe.expect_message().topic == "sent"
    assert [(item[2], item[3]) for item in peer.delivered] == [("ping", (1,))]


def test_sends_past_the_slice_budget_inside_a_user_coroutine_all_arrive_in_order(tmp_path: Path) -> None:
    """A slice ends after 256 operations even inside coroutine.wrap (the pause passes up
    through the user's coroutine) and nothing is lost or reordered."""
    result = run_lua(
        tmp_path,
        """
        return {main = function()
          local me = process.pid()
          local numbers = process.listen("n")
          local send_all = coroutine.wrap(function(count)
            for i = 1, count do process.send(me, "n", i) end
            coroutine.yield("sent")
            return "done"
          end)
          local first = send_all(1000)
          local in_order = true
          for i = 1, 1000 do
            if numbers:receive() ~= i then in_order = false end
          end
          return {first, send_all(), in_order}
        end}
        """,
    )
    assert result == ["sent", "done", True]
