"""Regression (issue 12, defect 11): every resource a user can grow has a limit.

Tried as a hostile user would: a mailbox grew to 2.2 GB (40 × 50 MB sent to a
process that never reads), a spawn loop to 1.27 GB in 20 s, and 2,000
one-nanosecond tickers pegged a core.  Each limit now gives a clear
``LIMIT_EXCEEDED`` to whoever asked for more (the sender, the spawner, the
process with too many timers); signals that report a death are never refused.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from actorflow.app import App
from actorflow.pytest_plugin import wait_until
from actors import Actor, Limits, Node, Probe, ProcessHost, errors, select
from actors.limits import DEFAULT_LIMITS, MESSAGE_OVERHEAD

from .lua_support import lua_entry, write_app

ROOT = Path(__file__).resolve().parents[1]


def host_entry(**host: Any) -> dict[str, Any]:
    return {"name": "processes", "kind": "process.host", "host": {"workers": 2, **host}}


# -- mailboxes ------------------------------------------------------------------------------

# The case, in a fresh interpreter capped at 2 GiB of address space: without a
# bound the 40 messages (2 GB) do not fit, and the probe ends in MemoryError or worse.
MAILBOX_PROBE = """
import json, resource, sys, time
resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))
from actorflow.app import App
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
with App(sys.argv[1], extensions=[]) as app:
    outcome = app.exec("app:flood", 40, timeout=120)
outcome["grew_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 - before
print(json.dumps(outcome))
"""

FLOOD = {
    "flood.lua": """
    return {main = function(count)
      local sink = process.spawn("app:sink", "app:processes")
      local big = string.rep("x", 50 * 1024 * 1024)
      local sent, refused, kinds = 0, 0, {}
      for _ = 1, count do
        local ok, err = process.send(sink, "big", big)
        if ok then sent = sent + 1 else refused = refused + 1; kinds[err:kind()] = true end
      end
      local kind_list = {}
      for kind in pairs(kinds) do table.insert(kind_list, kind) end
      -- The sink is alive and its mailbox still works once there is room again.
      process.terminate(sink)
      return {sent = sent, refused = refused, kinds = kind_list}
    end}
    """,
    "sink.lua": """
    local time = require("time")
    return {main = function() while true do time.sleep("1h") end end}
    """,
}


def test_forty_messages_of_50_mb_to_a_process_that_never_reads_are_refused_past_the_bound(
    tmp_path: Path,
) -> None:
    entries = [host_entry(), lua_entry("flood"), lua_entry("sink", modules=("time",))]
    write_app(tmp_path, entries, FLOOD)
    result = subprocess.run(
        [sys.executable, "-c", MAILBOX_PROBE, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    outcome = json.loads(result.stdout)
    # 64 MiB by default: one 50 MB message fits, the second does not.
    assert DEFAULT_LIMITS.max_mailbox_bytes == 64 * 1024 * 1024
    assert outcome["sent"] == 1, outcome
    assert outcome["refused"] == 39
    assert outcome["kinds"] == [errors.LIMIT_EXCEEDED]
    assert outcome["grew_mb"] < 700, outcome  # not 2 GB: what is refused is not kept


class Stuck(Actor):
    """An actor busy with one request until it is released: its mailbox fills meanwhile."""

    use_thread = True

    def on_receive(self, message: Any) -> Any:
        started, release = message
        started.set()
        release.wait(10)


async def _counting_sink(proc: Any, observer: Any) -> None:
    """Reads topic "n" only after each CANCEL (a signal: never refused by a full mailbox);
    until then the messages wait in its mailbox."""
    events = proc.events()
    numbers = None
    while True:
        await events.receive()
        numbers = numbers or proc.listen("n")
        await proc.sleep(0)  # a step: the mailbox moves into the new subscription
        seen = []
        while True:
            index, value, _ok = await select(numbers.case_receive(), default=True)
            if index < 0:
                break
            seen.append(value)
        proc.send(observer, "counted", seen)


def limited_node(**limits: Any) -> Node:
    node = Node(default_host="")
    node.add_host(ProcessHost(node, "app:h", limits=Limits(**limits)))
    node.default_host_id = "app:h"
    return node


def test_a_sender_to_a_full_mailbox_gets_limit_exceeded_and_nothing_is_delivered() -> None:
    # An integer payload counts 8 bytes plus the overhead: room for exactly ten.
    node = limited_node(max_mailbox_bytes=10 * (MESSAGE_OVERHEAD + 8) + 5)
    with Probe(node) as probe:
        sink = probe.spawn(_counting_sink, probe.pid)
        for index in range(10):
            node.send(sink, "n", index)
        with pytest.raises(errors.Error) as refused:
            node.send(sink, "n", 10)
        assert refused.value.kind() == errors.LIMIT_EXCEEDED
        assert refused.value.retryable() is True
        assert f"is full: {10 * (MESSAGE_OVERHEAD + 8):,} of its" in refused.value.message()
        # Once the process reads, there is room again; the refused message never arrives.
        node.cancel(sink, reason="read now")
        assert probe.expect_message("counted").payload == list(range(10))
        node.send(sink, "n", 11)
        node.cancel(sink, reason="read now")
        assert probe.expect_message("counted").payload == [11]
    node.shutdown()


def test_mailbox_bytes_count_the_payloads_and_a_pykka_tell_is_refused_too() -> None:
    node = limited_node(max_mailbox_bytes=60_000 + 6 * MESSAGE_OVERHEAD)
    started, release = threading.Event(), threading.Event()
    try:
        stuck = node.start(Stuck)
        stuck.tell((started, release))
        assert started.wait(5)  # busy: what follows waits in its mailbox
        node.send(stuck.pid, "big", "x" * 60_000)
        with pytest.raises(errors.Error) as refused:
            node.send(stuck.pid, "big", "x" * 60_000)  # 120,000 bytes would be waiting
        assert refused.value.kind() == errors.LIMIT_EXCEEDED
        assert f"this one is {60_000 + MESSAGE_OVERHEAD:,} bytes" in refused.value.message()
        for _ in range(5):  # a request counts the overhead only (pykka passes references)
            stuck.tell((threading.Event(), release))
        with pytest.raises(errors.Error) as told:
            stuck.tell((threading.Event(), release))  # a seventh waiting message
        assert told.value.kind() == errors.LIMIT_EXCEEDED
    finally:
        release.set()
        node.shutdown()


def test_exits_and_link_downs_reach_a_full_mailbox() -> None:
    """The notices of a death are never refused, whatever the mailbox holds."""
    node = limited_node(max_mailbox_bytes=3 * (MESSAGE_OVERHEAD + 8))
    with Probe(node, trap_links=True) as probe:  # a probe's mailbox fills until the test reads it
        for index in range(3):
            node.send(probe.pid, "fill", index)
        with pytest.raises(errors.Error) as refused:
            node.send(probe.pid, "fill", 3)
        assert refused.value.kind() == errors.LIMIT_EXCEEDED
        children = [probe.spawn(_fails, link=True, monitor=True) for _ in range(20)]
        for child in children:
            assert probe.expect_exit(child, error_kind=errors.INTERNAL).error.message() == "boom"
            assert probe.expect_link_down(child, error_kind=errors.INTERNAL).error.message() == "boom"
        assert [probe.expect_message("fill").payload for _ in range(3)] == [0, 1, 2]
    node.shutdown()


async def _fails(proc: Any) -> None:
    raise errors.Error(errors.INTERNAL, "boom")


def test_cancels_still_unread_are_merged_into_one() -> None:
    """10,000 CANCELs to a process that does not read its events yet: it holds, and reads, one."""
    node = limited_node()
    target = node.spawn(_reads_events_later)
    for _ in range(10_000):
        node.cancel(target, reason="again")
    node.send(target, "go")
    assert node.wait(target, timeout=10) == (1, None)
    node.shutdown()


async def _reads_events_later(proc: Any) -> int:
    await proc.listen("go").receive()
    events = proc.events()
    count = 0
    while True:
        quiet = proc.after(0.2)
        index, _value, _ok = await select(events.case_receive(), quiet.case_receive())
        if index == 1:
            return count
        count += 1


# -- processes per host --------------------------------------------------------------------------

SPAWN_LOOP = {
    "spawner.lua": """
    return {main = function()
      local count = 0
      while true do
        local pid, err = process.spawn("app:idle", "app:processes")
        if not pid then return {count = count, kind = err:kind(), message = err:message()} end
        count = count + 1
      end
    end}
    """,
    "idle.lua": """
    return {main = function() process.inbox():receive() end}
    """,
}


def test_a_spawn_loop_stops_at_max_processes_with_limit_exceeded(tmp_path: Path) -> None:
    entries = [host_entry(max_processes=500), lua_entry("spawner"), lua_entry("idle")]
    with App(write_app(tmp_path, entries, SPAWN_LOOP), extensions=[]) as app:
        outcome = app.exec("app:spawner", timeout=30)
        assert app.node is not None
        assert app.node.process_count() == 499  # the children idle on
    # 499 children: the spawner itself was the 500th process of the host.
    assert outcome["count"] == 499
    assert outcome["kind"] == errors.LIMIT_EXCEEDED
    assert "(limit 500): spawn refused" in outcome["message"]


def test_the_default_bounds_are_finite() -> None:
    assert DEFAULT_LIMITS.max_processes == 262_144
    assert DEFAULT_LIMITS.max_mailbox_bytes // MESSAGE_OVERHEAD == 524_288  # messages at most
    assert DEFAULT_LIMITS.min_ticker_period == 0.001
    assert DEFAULT_LIMITS.max_timers == 10_000
    assert DEFAULT_LIMITS.max_busy == 2.0


# -- tickers and timers -----------------------------------------------------------------------------

TICKERS = {
    "tickers.lua": """
    local time = require("time")
    return {main = function(count, parent)
      for _ = 1, count do time.ticker("1ns") end
      process.send(parent, "ticking", true)
      process.inbox():receive()
    end}
    """,
    "reader.lua": """
    local time = require("time")
    return {main = function(count)
      local ticker = time.ticker("1ns")
      local started = time.now()
      time.sleep("50ms")                        -- the channel fills, the ticker pauses
      for _ = 1, count do ticker:channel():receive() end
      ticker:stop()
      return time.now():sub(started):milliseconds()
    end}
    """,
}


def _cpu_seconds_over(seconds: float) -> float:
    start_cpu, start = time.process_time(), time.monotonic()
    time.sleep(seconds)
    return (time.process_time() - start_cpu) / (time.monotonic() - start)


def test_two_thousand_one_nanosecond_tickers_nobody_reads_leave_the_cpu_idle(tmp_path: Path) -> None:
    entries = [host_entry(), lua_entry("tickers", modules=("time",))]
    with App(write_app(tmp_path, entries, TICKERS), extensions=[]) as app:
        assert app.node is not None
        with Probe(app.node, default_timeout=10) as probe:
            for _ in range(4):
                probe.spawn("app:tickers", 500, str(probe.pid))
            for _ in range(4):
                probe.expect_message("ticking")
            # Each channel fills (16 ticks at the 1 ms minimum), then its ticker pauses: the
            # CPU goes idle, and stays idle (before the bound, it stayed pegged).
            wait_until(lambda: _cpu_seconds_over(0.5) < 0.1, timeout=20, what="the CPU idle")
            assert _cpu_seconds_over(1.0) < 0.1
            assert app.node.timers.pending_count() == 0  # every ticker paused


def test_a_ticker_ticks_no_faster_than_the_minimum_period_and_goes_on_once_read(tmp_path: Path) -> None:
    entries = [host_entry(min_ticker_period="2ms"), lua_entry("reader", modules=("time",))]
    with App(write_app(tmp_path, entries, TICKERS), extensions=[]) as app:
        # 16 ticks wait in the channel; 100 more come one period (2 ms) after each read at least.
        elapsed_ms = app.exec("app:reader", 116, timeout=30)
    assert elapsed_ms >= 50 + 100 * 2


def test_timers_per_process_are_bounded(tmp_path: Path) -> None:
    source = {
        "timers.lua": """
        local time = require("time")
        return {main = function()
          local made = 0
          local ok, err = pcall(function()
            while true do time.after("1h"); made = made + 1 end
          end)
          return {made = made, kind = err:kind(), error = err:message()}
        end}
        """
    }
    entries = [host_entry(max_timers=300), lua_entry("timers", modules=("time",))]
    with App(write_app(tmp_path, entries, source), extensions=[]) as app:
        outcome = app.exec("app:timers", timeout=30)
    assert outcome["made"] == 300
    assert outcome["kind"] == errors.LIMIT_EXCEEDED
    assert "has 300 timers pending (limit 300)" in outcome["error"]


# -- configuration ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value", "problem"),
    [
        ("max_processes", 0, "host.max_processes must be a positive integer"),
        ("max_mailbox_bytes", "many", "host.max_mailbox_bytes must be a positive integer"),
        ("max_mailbox_bytes", True, "host.max_mailbox_bytes must be a positive integer"),
        ("min_ticker_period", "fast", "host.min_ticker_period: invalid duration 'fast'"),
        ("max_timers", -1, "host.max_timers must be a positive integer"),
    ],
)
def test_a_bad_limit_is_a_problem_of_the_entry(tmp_path: Path, field: str, value: Any, problem: str) -> None:
    write_app(tmp_path, [host_entry(**{field: value})], {})
    with pytest.raises(errors.Error) as refused:
        App(tmp_path, extensions=[])
    assert refused.value.kind() == errors.INVALID
    assert problem in str(refused.value)


def test_limits_set_in_yaml_reach_the_host(tmp_path: Path) -> None:
    host = host_entry(max_processes=7, max_mailbox_bytes=9_000, max_timers=8, min_ticker_period="5ms")
    write_app(tmp_path, [host, lua_entry("idle")], SPAWN_LOOP)
    with App(tmp_path, extensions=[]) as app:
        assert app.node is not None
        limits = app.node.host("app:processes").limits  # type: ignore[attr-defined]
    assert limits == Limits(max_processes=7, max_mailbox_bytes=9_000, max_timers=8, min_ticker_period=0.005)


def test_limits_given_in_python_are_checked() -> None:
    with pytest.raises(errors.Error) as refused:
        Limits(max_processes=0)
    assert refused.value.kind() == errors.INVALID


# -- channel handles ------------------------------------------------------------------------------

HANDLES = {
    "handles.lua": """
    local time = require("time")
    return {main = function(parent, count)
      for i = 1, count do
        local ch = channel.new(1)                 -- dropped at once
        local timeout = time.after("1h")          -- a timeout nobody waits for
        if i % 500 == 0 then time.sleep("1ms") end
      end
      process.send(parent, "made", count)
      process.listen("stop"):receive()
    end}
    """
}


def test_channel_handles_lua_dropped_are_forgotten(tmp_path: Path) -> None:
    """Lua holds channels as handles; the driver forgets those whose objects Lua collected,
    so a loop that makes channels (a timeout per receive) does not grow the process."""
    entries = [host_entry(max_timers=100_000), lua_entry("handles", modules=("time",))]
    with App(write_app(tmp_path, entries, HANDLES), extensions=[]) as app:
        assert app.node is not None
        with Probe(app.node, default_timeout=30) as probe:
            pid = probe.spawn("app:handles", str(probe.pid), 20_000)
            assert probe.expect_message("made").payload == 20_000
            process = app.node.process(pid)
            assert process is not None
            handles = len(process.behaviour.core._channels or ())  # type: ignore[attr-defined]
            probe.send(pid, "stop", True)
    assert handles < 10_000, f"{handles} channel handles kept for 40,000 made and dropped"
