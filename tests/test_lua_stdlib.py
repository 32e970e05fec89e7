"""The Lua modules: channel, coroutine, time, funcs, ctx, uuid, json, errors, logger."""

from __future__ import annotations

import logging
import re
import time
from pathlib import Path

import pytest

from actorflow.app import App
from actors import errors
from actors.node import call_context

from .lua_support import HOST, lua_entry, run_lua, write_app


def test_channels_buffered_unbuffered_close_and_select(tmp_path: Path) -> None:
    result = run_lua(
        tmp_path,
        """
        return {main = function()
          local buffered = channel.new(2)
          buffered:send("a")
          buffered:send("b")
          buffered:close()
          buffered:close()
          local a, ok_a = buffered:receive()
          local b = buffered:receive()
          local c, ok_c = buffered:receive()
          local sent_ok, send_err = pcall(function() buffered:send("x") end)
          local empty = channel.new()
          local picked = channel.select({empty:case_receive(), default = true})
          local spare = channel.new(1)
          local sent = channel.select{spare:case_send("s")}
          local first = channel.new(1)
          local second = channel.new(1)
          second:send(2); first:send(1)
          local prio = channel.select{first:case_receive(), second:case_receive()}
          return {a, ok_a, b, c == nil, ok_c, sent_ok, tostring(send_err):find("send on closed channel") ~= nil,
                  picked.default, sent.channel == spare, sent.value, prio.channel == first, prio.value}
        end}
        """,
    )
    assert result == ["a", True, "b", True, False, False, True, True, True, "s", True, 1]


def test_seed_worker_pool_with_channels_and_coroutines(tmp_path: Path) -> None:
    """The concurrent worker pool of the seed, run as a process."""
    result = run_lua(
        tmp_path,
        """
        local time = require("time")
        local function main(input)
            local worker_count = input.workers or 3
            local job_count = input.jobs or 6

            local work_queue = channel.new(10)
            local results = channel.new(10)

            for w = 1, worker_count do
                coroutine.spawn(function()
                    while true do
                        local job, ok = work_queue:receive()
                        if not ok then break end
                        time.sleep(10 * time.MILLISECOND)
                        results:send({worker = w, job = job, result = job * 2})
                    end
                end)
            end

            for j = 1, job_count do
                work_queue:send(j)
            end
            work_queue:close()

            local total = 0
            local processed = {}
            for _ = 1, job_count do
                local r = results:receive()
                total = total + r.result
                table.insert(processed, r)
            end

            return {total = total, processed = processed}
        end
        return {main = main}
        """,
        {"workers": 3, "jobs": 6},
    )
    assert result["total"] == 42
    assert sorted(item["job"] for item in result["processed"]) == [1, 2, 3, 4, 5, 6]
    assert {item["worker"] for item in result["processed"]} == {1, 2, 3}


def test_blocking_calls_work_inside_user_coroutines(tmp_path: Path) -> None:
    result = run_lua(
        tmp_path,
        """
        local time = require("time")
        return {main = function()
          local co = coroutine.create(function(a)
            time.sleep("5ms")                  -- a driver operation, passed through
            local b = coroutine.yield(a + 1)   -- an ordinary user yield
            local ch = channel.new(1)
            ch:send(b * 10)
            return ch:receive()
          end)
          local ok1, first = coroutine.resume(co, 1)
          local ok2, second = coroutine.resume(co, 5)
          local gen = coroutine.wrap(function() for i = 1, 3 do coroutine.yield(i) time.sleep(1) end end)
          return {ok1, first, ok2, second, coroutine.status(co), gen(), gen(), gen()}
        end}
        """,
    )
    assert result == [True, 2, True, 50, "dead", 1, 2, 3]


def test_durations_and_times_past_64_bits_are_invalid_not_wrapped(tmp_path: Path) -> None:
    """Go's bounds: ±2562047h47m16.854775807s of duration, and a Time holds 1678 to 2262."""
    result = run_lua(
        tmp_path,
        """
        local time = require("time")
        local function check(value, err)
          if value == nil then return err:kind() .. " " .. err:message() end
          return value
        end
        return {main = function()
          local ok_add, add_err = pcall(function() return time.unix(9223372036):add("1s") end)
          return {
            check(time.parse_duration("2562048h")),
            check(time.parse_duration("-2562048h")),
            check(time.parse_duration(string.rep("9", 400) .. "h")),
            time.parse_duration("2562047h47m16.854775807s"):nanoseconds() == math.maxinteger,
            time.parse_duration("-2562047h47m16.854775808s"):nanoseconds() == math.mininteger,
            check(time.unix(math.maxinteger)),
            check(time.unix(math.mininteger)),
            check(time.unix(9223372036, 854775808)),
            time.unix(9223372036, 854775807):unix_nano() == math.maxinteger,
            time.unix(-9223372036):year(),
            time.unix(1, 5.0):unix_nano(),
            ok_add, add_err:kind(),
          }
        end}
        """,
    )
    out_of_range = "INVALID invalid duration '{}': out of range"
    assert result[0].startswith(out_of_range.format("2562048h"))
    assert result[1].startswith(out_of_range.format("-2562048h"))
    assert result[2].startswith("INVALID invalid duration '9999") and "out of range" in result[2]
    assert result[3:5] == [True, True]
    assert result[5] == (
        "INVALID time.unix: 9223372036854775807 s and 0 ns are outside the times a Time holds (years 1678 to 2262)"
    )
    assert result[6].startswith("INVALID time.unix: -9223372036854775808 s")
    assert result[7].startswith("INVALID time.unix: 9223372036 s and 854775808 ns")
    assert result[8:] == [True, 1677, 1_000_000_005, False, errors.INVALID]


def test_time_durations_sleep_now_and_timers(tmp_path: Path) -> None:
    started = time.monotonic()
    result = run_lua(
        tmp_path,
        """
        local time = require("time")
        return {main = function()
          local start = time.now()
          time.sleep("30ms")
          time.sleep(10 * time.MILLISECOND)
          local elapsed = time.now():sub(start):milliseconds()
          local d = time.parse_duration("1h30m")
          local _, bad = time.parse_duration("3d")
          local _, bad_sleep = time.sleep("soon")
          local timer = time.timer("10ms")
          local fired = timer:channel():receive()
          local ticker = time.ticker("5ms")
          local ticks = 0
          for _ = 1, 3 do ticker:channel():receive() ticks = ticks + 1 end
          ticker:stop()
          local stopped_timer = time.timer("1h")
          local was_running = stopped_timer:stop()
          local _, zero = time.after(0)
          local after = time.after("5ms"):receive()
          return {
            elapsed >= 40, d:minutes(), tostring(d), bad:kind(), bad_sleep:kind(),
            getmetatable(fired) == "time" and getmetatable(after) == "time" and after:unix() > 1700000000, ticks,
            was_running, zero:kind(), time.SECOND, time.MILLISECOND, start:unix() > 1700000000,
            time.unix(0, 0):format_rfc3339(),
          }
        end}
        """,
    )
    assert result == [
        True,
        90.0,
        "1h30m0s",
        errors.INVALID,
        errors.INVALID,
        True,  # timers and time.after deliver Time objects
        3,
        True,
        errors.INVALID,
        1_000_000_000,
        1_000_000,
        True,
        "1970-01-01T00:00:00Z",
    ]
    assert time.monotonic() - started < 5


def test_time_dates_locations_layouts_and_rounding_are_gos(tmp_path: Path) -> None:
    """The time module's calendar side, with the values Go's time package gives."""
    result = run_lua(
        tmp_path,
        """
        local time = require("time")
        return {main = function()
          local t = time.date(2024, time.DECEMBER, 25, 10, 30, 0, 0, time.utc)
          local ny = time.load_location("America/New_York")
          local meeting = time.date(2024, time.JANUARY, 15, 14, 0, 0, 0, ny)
          local y, m, d = meeting:date()
          local h, mi, s = meeting:clock()
          local parsed = time.parse(time.RFC3339, "2024-12-29T15:04:05Z")
          local offset = time.parse("2006-01-02 15:04:05 -0700", "2024-12-29 14:30:00 -0500")
          local wall = time.parse("2006-01-02 15:04", "2024-12-29 14:30", ny)
          local _, bad = time.parse(time.RFC3339, "invalid")
          local _, no_day = time.parse(time.DATE_ONLY, "2023-02-29")
          local _, unknown = time.load_location("Unknown/Zone")
          local ist = time.fixed_zone("IST", 5 * 3600 + 30 * 60)
          local x = time.date(2024, 1, 15, 10, 40, 0, 0, time.utc)
          return {
            t:format_rfc3339(), t:format(time.DATE_ONLY), t:format("Mon Jan 2, 2006 3:04PM"),
            meeting:format_rfc3339(), meeting:utc():format_rfc3339(), {y, m, d, h, mi, s},
            meeting:weekday(), meeting:year_day(), meeting:location():string(),
            parsed:format_rfc3339(), offset:format(time.RFC1123Z), offset:utc():format_rfc3339(),
            wall:format_rfc3339(), bad:kind(), no_day:kind(), unknown:kind(),
            t:in_location(ist):format(time.RFC822), t:in_location(ist):hour(),
            time.date(2024, 1, 31, 0, 0, 0, 0, time.utc):add_date(0, 1, 0):format(time.DATE_ONLY),
            time.date(2024, 10, 32, 25, 0, 0, 0, time.utc):format(time.DATE_TIME),
            x:round(time.parse_duration("1h")):format(time.TIME_ONLY),
            x:truncate(time.parse_duration("15m")):format(time.TIME_ONLY),
            time.unix(1703862245, 500000000):format(time.RFC3339NANO),
            time.date(2024, 3, 10, 2, 30, 0, 0, ny):format_rfc3339(),  -- in the spring-forward gap
            t:add("24h"):sub(t):hours(), time.SATURDAY, time.MARCH,
          }
        end}
        """,
    )
    assert result == [
        "2024-12-25T10:30:00Z",
        "2024-12-25",
        "Wed Dec 25, 2024 10:30AM",
        "2024-01-15T14:00:00-05:00",
        "2024-01-15T19:00:00Z",
        [2024, 1, 15, 14, 0, 0],
        1,  # Monday
        15,
        "America/New_York",
        "2024-12-29T15:04:05Z",
        "Sun, 29 Dec 2024 14:30:00 -0500",
        "2024-12-29T19:30:00Z",
        "2024-12-29T14:30:00-05:00",
        errors.INVALID,
        errors.INVALID,
        errors.NOT_FOUND,
        "25 Dec 24 16:00 IST",
        16,
        "2024-03-02",  # February 31 is March 2, as in Go
        "2024-11-02 01:00:00",
        "11:00:00",
        "10:30:00",
        "2023-12-29T15:04:05.5Z",
        "2024-03-10T01:30:00-05:00",  # Go's choice in a gap
        24.0,
        6,
        3,
    ]


def test_time_refuses_what_is_not_a_duration_or_a_representable_time(tmp_path: Path) -> None:
    result = run_lua(
        tmp_path,
        """
        local time = require("time")
        return {main = function()
          local _, nan = time.sleep(0 / 0)
          local _, huge = time.after(math.huge)
          local _, year_zero = time.parse("15:04", "10:30")  -- Go's year 0: before 1678
          local ok, wrong = pcall(function() return time.now():sub("yesterday") end)
          return {nan:kind(), huge:kind(), year_zero:kind(), year_zero:message(), ok, tostring(wrong)}
        end}
        """,
    )
    assert result[:5] == [
        errors.INVALID,
        errors.INVALID,
        errors.INVALID,
        "time out of range: a Time holds years 1678 to 2262",
        False,
    ]
    assert "Time:sub: expected a Time" in result[5]


def test_load_runs_text_in_bt_mode_but_never_binary_and_random_zero_is_an_integer(tmp_path: Path) -> None:
    result = run_lua(
        tmp_path,
        """
        return {main = function()
          local f = load("return 1 + 1", "x", "bt")
          local g, binary = load(string.char(27) .. "Lua", "y", "bt")
          local h, only_b = load("return 2", "z", "b")
          local draws = {}
          for i = 1, 8 do draws[math.random(0)] = true end
          local distinct = 0
          for _ in pairs(draws) do distinct = distinct + 1 end
          return {f(), g == nil, binary, h == nil, only_b, math.type(math.random(0)), distinct}
        end}
        """,
    )
    assert result == [
        2,
        True,
        "attempt to load a binary chunk (mode is 't')",
        True,
        "only text chunks can be loaded",
        "integer",
        8,
    ]


SEED_REQUEST_RESPONSE = """
local time = require("time")
return {main = function(target)
  -- the caller's side of the seed's request/response with a time.after timeout
  local response_ch = process.listen("status_response")
  process.send(target, "get_status", {})

  local timeout = time.after("5s")
  local result = channel.select{
      response_ch:case_receive(),
      timeout:case_receive()
  }

  if result.channel == response_ch then
      local status = result.value
      return status
  end
  return "timed out"
end}
"""


def test_seed_request_response_with_timeout_from_a_process(tmp_path: Path) -> None:
    app_dir = write_app(
        tmp_path,
        [HOST, lua_entry("caller", modules=("time",)), lua_entry("server")],
        {
            "caller.lua": SEED_REQUEST_RESPONSE,
            "server.lua": """
            return {main = function()
              local ch = process.listen("get_status", {message = true})
              local msg = ch:receive()
              process.send(msg:from(), "status_response", {status = "processing", progress = 75})
            end}
            """,
        },
    )
    with App(app_dir, extensions=[]) as app:
        server = app.spawn("app:server")
        assert app.exec("app:caller", str(server), timeout=10) == {"status": "processing", "progress": 75}


def test_funcs_call_function_entries_python_functions_and_context(tmp_path: Path) -> None:
    seen_context: list[dict] = []

    def tax(amount: float) -> dict:
        seen_context.append(call_context())
        return {"tax": round(amount * 0.2, 2)}

    def refuse(_: object) -> None:
        raise errors.Error(errors.PERMISSION_DENIED, "no refunds", retryable=False)

    app_dir = write_app(
        tmp_path,
        [
            HOST,
            lua_entry("main", modules=("funcs", "time")),
            lua_entry("double", kind="function.lua", modules=("ctx",)),
            lua_entry("slow", kind="function.lua", modules=("time",)),
        ],
        {
            "main.lua": """
            local funcs = require("funcs")
            return {main = function()
              local d, e1 = funcs.call("app:double", 21)
              local ctx_seen = funcs.new():with_context({tenant = "acme"}):call("app:double", "ctx")
              local t = funcs.new():with_context({tenant = "py"}):call("py:tax", 100)
              local _, denied = funcs.call("py:refuse", 1)
              local _, missing = funcs.call("app:nothing", 1)
              local _, invalid = funcs.call("double", 1)
              local _, slow = funcs.new():with_options({timeout = 30}):call("app:slow")
              local future = funcs.async("app:double", 4)
              local payload = future:response():receive()
              return {d, e1 == nil, ctx_seen, t.tax, denied:kind(), denied:retryable(), missing:kind(),
                      invalid:kind(), slow:kind(), payload:data(), future:is_complete()}
            end}
            """,
            "double.lua": """
            local ctx = require("ctx")
            return {main = function(x)
              if x == "ctx" then return ctx.get("tenant") end
              return x * 2
            end}
            """,
            "slow.lua": """
            local time = require("time")
            return {main = function() time.sleep("5s") return "late" end}
            """,
        },
    )
    with App(app_dir, extensions=[]) as app:
        assert app.node is not None
        app.node.register_function("py:tax", tax)
        app.node.register_function("py:refuse", refuse)
        result = app.exec("app:main", timeout=10)
    assert result == [
        42,
        True,
        "acme",
        20.0,
        errors.PERMISSION_DENIED,
        False,
        errors.NOT_FOUND,
        errors.INVALID,
        errors.TIMEOUT,
        8,
        True,
    ]
    assert seen_context == [{"tenant": "py"}]


def test_ctx_inherited_through_with_context(tmp_path: Path) -> None:
    result = run_lua(
        tmp_path,
        """
        local ctx = require("ctx")
        return {main = function()
          local child = process.with_context({user_id = "u1", request_id = "r1"})
            :exec("app:reader", "app:processes")
          local _, missing = ctx.get("nope")
          local _, empty = ctx.get("")
          return {child = child, missing = missing:kind(), empty = empty:kind()}
        end}
        """,
        extra={
            "reader.lua": """
            local ctx = require("ctx")
            return {main = function() return {one = ctx.get("user_id"), all = ctx.all()} end}
            """
        },
        extra_entries=[lua_entry("reader", modules=("ctx",))],
    )
    assert result["child"] == {"one": "u1", "all": {"user_id": "u1", "request_id": "r1"}}
    assert (result["missing"], result["empty"]) == (errors.NOT_FOUND, errors.INVALID)


def test_uuid_json_crypto_and_errors_modules(tmp_path: Path) -> None:
    result = run_lua(
        tmp_path,
        """
        local uuid = require("uuid")
        local json = require("json")
        local crypto = require("crypto")
        return {main = function()
          local bytes = crypto.random_bytes(16)
          local obj = json.decode('{"a":[1,2,{"b":null}],"c":"d"}')
          local _, bad_json = json.decode("{nope")
          local _, mixed = json.encode({1, 2, x = 3})
          local e = errors.new({kind = errors.NOT_FOUND, message = "gone", retryable = false, details = {id = 7}})
          local wrapped = errors.wrap(e, "loading order")
          local plain = errors.new("just text")
          return {
            uuid.v4(), uuid.v7(), uuid.version(uuid.v4()), uuid.validate("nope"), #bytes,
            obj.a[2], obj.c, json.encode({}), json.encode({x = {1, 2}}), bad_json:kind(), mixed:kind(),
            e:kind(), e:message(), e:retryable(), e:details().id, wrapped:kind(), tostring(wrapped),
            errors.is(wrapped, errors.NOT_FOUND), errors.is("x", errors.NOT_FOUND), plain:kind(),
            "x" .. e, uuid.v5("dns", "example.com"),
          }
        end}
        """,
    )
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", result[0])
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", result[1])
    assert result[2:] == [
        4,
        False,
        16,
        2,
        "d",
        "[]",
        '{"x":[1,2]}',
        errors.INTERNAL,  # Wippy's kind for text that is not JSON
        errors.INTERNAL,  # and for a table that mixes list and string keys
        errors.NOT_FOUND,
        "gone",
        False,
        7,
        errors.NOT_FOUND,
        "loading order: gone",
        True,
        False,
        "",
        "xgone",
        "cfbff0d1-9375-5685-968c-48ce8b15ae17",
    ]


def test_logger_goes_through_python_logging_with_pid_and_entry(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="actors.lua")
    pid = run_lua(
        tmp_path,
        """
        local logger = require("logger")
        return {main = function()
          logger:info("order placed", {order_id = 42})
          logger:with({tenant = "acme"}):named("billing"):warn("card declined")
          print("hello", 1)
          return process.pid()
        end}
        """,
    )
    records = [r for r in caplog.records if r.name.startswith("actors.lua.app:main")]
    assert [(r.levelname, r.getMessage()) for r in records] == [
        ("INFO", "order placed order_id=42"),
        ("WARNING", "card declined tenant=acme"),
        ("INFO", "hello\t1"),
    ]
    assert records[1].name == "actors.lua.app:main.billing"
    assert all(r.pid == pid and r.entry == "app:main" for r in records)  # type: ignore[attr-defined]


def test_logger_fields_show_runtime_objects_as_text_and_cannot_forge_a_line(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A duration, a channel, an error or a function in a field is shown as what it is, not the
    runtime's tables; text with a newline, a space or an ``=`` is quoted, so user input logged
    as a field cannot write a second line or another field."""
    caplog.set_level(logging.DEBUG, logger="actors.lua")
    run_lua(
        tmp_path,
        """
        local logger = require("logger")
        local time = require("time")
        local hooks = {print}
        return {main = function()
          logger:info("checked", {
            wait = time.parse_duration("1m30s"),
            inbox = process.inbox(),
            err = errors.new({kind = errors.INVALID, message = "bad total"}),
            hook = function() end,
            input = "ok\\nINFO forged admin=true",
            empty = "",
            nested = {time.parse_duration("5s"), {print}},
            twice = {hooks, hooks},
            ["key with\\nnewline"] = 1,
          })
          return true
        end}
        """,
    )
    [record] = [r for r in caplog.records if r.name == "actors.lua.app:main"]
    assert record.getMessage() == (
        'checked empty="" err="bad total" hook=function inbox=channel '
        'input="ok\\nINFO forged admin=true" "key with\\nnewline"=1 nested=["5s",["function"]] '
        'twice=[["function"],["function"]] wait=1m30s'
    )
    assert "\n" not in record.getMessage()


def test_json_and_error_edge_cases_return_values_not_raise(tmp_path: Path) -> None:
    result = run_lua(
        tmp_path,
        """
        local json = require("json")
        return {main = function()
          local huge = json.decode("123456789012345678901234567890")
          local _, deep = json.decode(string.rep("[", 100000) .. string.rep("]", 100000))
          local odd = errors.new({message = "m", details = {context = {}}})
          return {math.type(huge), huge > 1e29, deep:kind(), deep:message(), tostring(odd),
                  json.decode("9223372036854775807"), math.type(json.decode("9223372036854775808"))}
        end}
        """,
    )
    assert result == [
        "float",
        True,
        errors.INTERNAL,
        "json.decode: nested too deeply",
        "m",
        9223372036854775807,
        "float",
    ]


def test_json_validate_says_false_and_the_error_whatever_failed(tmp_path: Path) -> None:
    """Wippy's json.validate returns ``boolean, error``: ``false, err`` for a schema that does
    not compile, text that is not JSON or a value that cannot leave Lua, as for invalid data."""
    result = run_lua(
        tmp_path,
        """
        local json = require("json")
        local function outcome(valid, err)
          return {valid = tostring(valid), kind = err and err:kind(), message = err and err:message()}
        end
        return {main = function()
          local deep = {}
          for _ = 1, 70 do deep = {deep} end
          return {
            not_json_schema = outcome(json.validate("{nope", 1)),
            refused_schema = outcome(json.validate({type = "object", unevaluatedProperties = false}, {})),
            bad_keyword = outcome(json.validate({type = 7}, 1)),
            not_json_text = outcome(json.validate_string({type = "number"}, "{nope")),
            deep_value = outcome(json.validate({type = "array"}, deep)),
            invalid = outcome(json.validate({type = "number"}, "x")),
          }
        end}
        """,
        modules=("json",),
    )
    assert {name: (value["valid"], value["kind"]) for name, value in result.items()} == {
        "not_json_schema": ("false", errors.INVALID),
        "refused_schema": ("false", errors.INVALID),
        "bad_keyword": ("false", errors.INVALID),
        "not_json_text": ("false", errors.INTERNAL),
        "deep_value": ("false", errors.INVALID),
        "invalid": ("false", errors.INVALID),
    }
    assert result["not_json_schema"]["message"].startswith("json.validate: the schema is not JSON")
    assert result["deep_value"]["message"] == "value nested too deeply (or cyclic)"
