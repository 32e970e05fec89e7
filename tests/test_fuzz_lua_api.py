"""Fuzzing every Lua API argument check from a real Lua process.

Every function of every module an entry can list (found by walking the
module tables, so a new function is fuzzed too) and every method of the
objects they return is called with arguments of the wrong type and hostile
shape: nil, booleans, integers at the 64-bit edges, NaN and infinities,
megabyte strings and invalid UTF-8, tables nested 100,000 deep or 50,000
wide, cyclic tables, functions (plain, raising, yielding), tables whose
metatable raises, channels, errors, times and the other runtime objects, and
methods called on a value of the wrong kind (``obj.method(x)`` for
``obj:method(x)``).  Each call returns, returns ``nil, err``, raises a typed
error or a clear "bad argument" message, or (for the calls whose job is to
wait) is still waiting: never a Python exception or object leaking into
Lua, never a Lua runtime error inside the library, never a hang of the Lua
state, never a crash of the OS process.  See ``tests/lua_fuzz_support.py``
and ``tests/apps/lua_fuzz``.  Bounded for ``make test``; see
``tests/fuzz_support.py`` for the long mode.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from actorflow.app import App
from actors import errors

from .fuzz_support import fuzz
from .lua_fuzz_support import ROOT, UPGRADE, VALUES, LuaApiFuzzer, Outcome, describe
from .lua_support import HOST, lua_entry, run_lua, write_app

HOSTILE: list[list[Any]] = [
    ["nil"], ["bool", True], ["int", -1], ["int", 2**63 - 1], ["int", -(2**63)], ["float", "nan"],
    ["float", "-inf"], ["float", 1e300], ["float", 0.5], ["str", ""], ["str", b"\xff\xfe"],
    ["list", [["int", 1], ["nil"], ["str", "x"]]], ["map", [[["str", "kind"], ["fn"]]]], ["cyclic"],
    ["fn"], ["hostile_meta"], ["obj", "channel"], ["obj", "error"], ["obj", "thread"],
]  # fmt: skip
"""The arguments every target gets in the fixed sweep (the random part adds the heavy ones)."""


@pytest.fixture(scope="module")
def fuzzer() -> Iterator[LuaApiFuzzer]:
    running = LuaApiFuzzer()
    try:
        yield running
    finally:
        running.close()


def assert_all_clear(outcomes: list[Outcome]) -> None:
    problems = [f"{problem}: {outcome}" for outcome in outcomes if (problem := outcome.problem())]
    assert not problems, f"{len(problems)} calls misbehaved:\n" + "\n".join(problems[:40])


def test_the_sweep_reaches_every_module_and_object(fuzzer: LuaApiFuzzer) -> None:
    modules = {target[1] for target in fuzzer.functions}
    assert modules >= {
        "base64", "channel", "crypto", "ctx", "env", "errors", "events", "funcs", "hash", "http", "io", "json",
        "metrics", "os", "pg", "process", "queue", "registry", "security", "sql", "system", "temporal", "text",
        "time", "uuid", "workflow", "yaml",
    }  # fmt: skip
    assert len(fuzzer.functions) > 150 and len(fuzzer.methods) > 150


def test_every_function_and_method_refuses_each_hostile_argument_clearly(fuzzer: LuaApiFuzzer) -> None:
    calls = []
    for target in fuzzer.targets:
        for value in HOSTILE:
            calls.append({"target": target, "args": [value]})
            calls.append({"target": target, "args": [["str", "app:echo"], value]})
            if target[0] == "method":
                calls.append({"target": target, "args": [value], "self": value})
    outcomes: list[Outcome] = []
    for start in range(0, len(calls), 1500):
        outcomes += fuzzer.run(calls[start : start + 1500], timeout=120)
    assert_all_clear(outcomes)


def test_process_upgrade_with_a_hostile_entry_or_arguments_ends_the_program_clearly(
    fuzzer: LuaApiFuzzer,
) -> None:
    """``process.upgrade`` replaces the program or ends it with the error: one run each."""
    for value in HOSTILE[1:]:  # nil is the program's own entry: a real upgrade, tested elsewhere
        for args in ([value], [["str", "app:echo"], value], [["str", "app:nope"], value]):
            result, error = fuzzer.upgrade(args)
            if error is None:  # upgraded to app:echo, or to itself (an empty ID is no ID, as nil)
                assert args[0] == ["str", "app:echo"] or (
                    args[0] == ["str", ""] and result == "upgraded to itself"
                ), (
                    args,
                    result,
                )
                continue
            outcome = Outcome({"target": UPGRADE, "args": args}, "raised", error.kind(), error.message())
            assert outcome.problem() is None, f"{outcome.problem()}: {outcome}"


def _call(target: list[str], args: list[Any], wrong_self: Any) -> dict[str, Any]:
    call: dict[str, Any] = {"target": target, "args": args}
    if target[0] == "method" and wrong_self is not None:
        call["self"] = wrong_self
    return call


@fuzz(30)
@given(data=st.data())
def test_random_calls_with_hostile_arguments_return_or_fail_clearly(fuzzer: LuaApiFuzzer, data: Any) -> None:
    call = st.builds(
        _call,
        st.sampled_from(fuzzer.targets),
        st.lists(VALUES, max_size=4),
        st.one_of(st.none(), st.none(), st.none(), VALUES),
    )
    calls = data.draw(st.lists(call, min_size=1, max_size=30), label="calls")
    outcomes = fuzzer.run(calls, timeout=60)
    assert_all_clear(outcomes)
    for outcome in outcomes:  # every call that did not return normally is accounted for
        assert outcome.status in ("raised", "returned", "waiting"), describe(outcome.call)


# -- the defects the fuzzing found ---------------------------------------------------------------


def test_values_kept_past_the_coroutine_that_passed_them_never_crash_the_os_process() -> None:
    """lupa ties a Lua object that reaches Python to the coroutine that passed it: a
    channel's buffered table sent by a coroutine that then ended, or a coroutine spawned by
    one, made the OS process crash (use after free) once Lua collected that coroutine.
    Run in a subprocess: before the fix it died of SIGSEGV or SIGABRT."""
    program = textwrap.dedent(
        """
        import sys, tempfile
        from pathlib import Path
        sys.path.insert(0, sys.argv[1])
        from tests.lua_support import run_lua
        SOURCE = '''
        local time = require("time")
        return {main = function()
          local ch = channel.new(100)
          local received = 0
          for round = 1, 12 do
            coroutine.spawn(function() ch:send({via = "spawned", round = round}) end)
            coroutine.spawn(function()
              coroutine.spawn(function() time.sleep("2ms"); ch:send({via = "grandchild"}) end)
            end)
            coroutine.wrap(function() ch:send({via = "wrap"}) end)()
            coroutine.spawn(function() channel.select({ch:case_send({via = "select"})}) end)
            coroutine.spawn(function()  -- a callback Lua calls from C cannot yield: a direct operation
              local sent = false
              table.sort({3, 1, 2}, function(a, b)
                if not sent then sent = true; ch:send({via = "sort"}) end
                return a < b
              end)
            end)
            time.sleep("5ms")
            for i = 1, 30000 do local garbage = {i, {i}} end  -- the collector runs
            while true do
              local got = channel.select({ch:case_receive()}, true)
              if got.default then break end
              received = received + 1
            end
          end
          return received
        end}
        '''
        print("received", run_lua(Path(tempfile.mkdtemp()), SOURCE, modules=("time",), timeout=60))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", program, str(ROOT)], capture_output=True, text=True, timeout=120, cwd=ROOT
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip().splitlines()[-1] == "received 60"


def test_a_method_called_with_a_dot_is_a_bad_argument_at_the_callers_line(tmp_path: Path) -> None:
    """It was "attempt to index a nil value (local 'self')" at a line of the runtime's code
    (``[string "<python>"]:446:``), for every method of every object."""
    value = run_lua(
        tmp_path,
        """
        local time = require("time")
        local text = require("text")
        return {main = function()
          local ch = channel.new(1)
          local _, dot = pcall(ch.receive)
          local _, other = pcall(time.now().add, ch, 5)
          local _, module = pcall(text.regexp.compile("a").match_string, "abc")
          local ok, fine = pcall(function() return time.parse_duration("1500ms"):seconds() end)
          return {dot = dot, other = other, module = module, fine = fine}
        end}
        """,
        modules=("time", "text"),
    )
    assert value == {
        "dot": "main.lua:6: bad argument #1 to 'receive' (channel expected, got nil): call it as value:receive(...)",
        "other": "main.lua:7: bad argument #1 to 'add' (time expected, got channel): call it as value:add(...)",
        "module": "main.lua:8: bad argument #1 to 'match_string' (regexp expected, got string): "
        "call it as value:match_string(...)",
        "fine": 1.5,
    }


def test_a_module_operation_called_with_too_many_or_too_few_arguments_is_no_type_error(
    tmp_path: Path,
) -> None:
    """``group:join(name, extra, extra)`` was ``INTERNAL: pg.join: TypeError: _join() takes
    from 2 to 3 positional arguments but 5 were given``: extra arguments are dropped, as Lua
    does; and a table as a JWT algorithm was ``TypeError: unhashable type``."""
    source = """
        local pg = require("pg")
        local crypto = require("crypto")
        return {main = function()
          local group = pg.open("app:groups")
          local joined = group:join("workers", "extra", {"more"})
          local members = group:get_members("workers", 1, 2, 3)
          local _, jwt = crypto.jwt.encode({sub = "x"}, "key", {"HS256"})
          return {joined = joined, members = #members, jwt = jwt:kind() .. ": " .. jwt:message()}
        end}
        """
    entries = [HOST, lua_entry("main", modules=("pg", "crypto")), {"name": "groups", "kind": "pg.scope"}]
    write_app(tmp_path, entries, {"main.lua": source})
    with App(tmp_path) as app:
        value = app.exec("app:main", timeout=20)
    assert value == {
        "joined": True,
        "members": 1,
        "jwt": f"{errors.INVALID}: crypto.jwt.encode: algorithm a table is not one of HS256, HS384, HS512, RS256",
    }


def test_a_spawner_option_actorflow_does_not_support_is_refused_naming_it(tmp_path: Path) -> None:
    """``process.with_options{network = …}`` (Wippy: a network.* entry for the child's
    connections, which actorflow does not have) and any key but a workflow's start options
    were ignored without a word."""
    value = run_lua(
        tmp_path,
        """
        return {main = function()
          local _, network = pcall(process.with_options, {network = "app:tor_proxy"})
          local _, other = pcall(function() return process.with_context({}):with_options({timeout = 5}) end)
          local ok = pcall(process.with_options, {["temporal.workflow.id"] = "a", ["workflow.id"] = "b"})
          return {network = {network:kind(), network:message()}, other = {other:kind(), other:message()}, ok = ok}
        end}
        """,
    )
    assert value == {
        "network": [
            errors.INVALID,
            "with_options: unknown option 'network': selecting a network (Wippy's network.* entries) "
            "is not supported by actorflow",
        ],
        "other": [
            errors.INVALID,
            "with_options: unknown option 'timeout': a spawner's options are a workflow's start options "
            "(workflow.* or temporal.workflow.*)",
        ],
        "ok": True,
    }
