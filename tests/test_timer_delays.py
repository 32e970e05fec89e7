"""No delay can stop the node's timer thread (issue 12, defect 1).

``process.cancel(pid, 1e13)`` from Lua or ``node.cancel(pid, 1e10)`` from
Python used to raise ``OverflowError`` inside the timer thread: the thread
died and no sleep, timer, cancel deadline or restart backoff fired again on
the node.  Out-of-range delays are now refused with ``INVALID`` before
anything is delivered, and the thread outlives any error.
"""

from __future__ import annotations

import logging
import math
import threading
from pathlib import Path

import pytest

from actors import Node, Probe, errors
from actors._timers import MAX_DELAY, Timers, check_delay

from .helpers import ignores_cancel
from .lua_support import lua_entry, run_lua


def fires_within(timers: Timers, delay: float = 0.01, timeout: float = 2.0) -> bool:
    """True when a fresh timer of ``delay`` seconds fires within ``timeout``."""
    fired = threading.Event()
    timers.call_later(delay, fired.set)
    return fired.wait(timeout)


@pytest.mark.parametrize(
    "delay", [1e10, MAX_DELAY * 1.5, math.inf, -math.inf, math.nan, 10**400, "5", None, True]
)
def test_out_of_range_delays_are_invalid_and_the_thread_keeps_serving(delay: object) -> None:
    timers = Timers()
    try:
        assert fires_within(timers)  # the thread is running
        with pytest.raises(errors.Error) as info:
            timers.call_later(delay, lambda: None)  # type: ignore[arg-type]
        assert info.value.kind() == errors.INVALID
        assert timers.pending_count() == 0
        assert fires_within(timers)
    finally:
        timers.stop()


def test_the_longest_delay_is_accepted_and_waits() -> None:
    timers = Timers()
    try:
        fired = threading.Event()
        far = timers.call_later(MAX_DELAY, fired.set)  # ~292 years: Go's longest duration
        assert fires_within(timers)  # sooner timers still fire while it waits
        assert far.pending and not fired.is_set()
        assert far.cancel()
    finally:
        timers.stop()


def test_check_delay_names_the_caller() -> None:
    assert check_delay(0.5, "sleep") == 0.5
    assert check_delay(0, "sleep") == 0.0
    with pytest.raises(errors.Error, match="cancel deadline"):
        check_delay(1e10, "cancel deadline")


def test_a_failing_callback_is_logged_and_later_timers_still_fire(caplog: pytest.LogCaptureFixture) -> None:
    timers = Timers()

    def explode() -> None:
        raise SystemExit("a callback that even raises SystemExit")

    try:
        with caplog.at_level(logging.ERROR, logger="actors.timers"):
            timers.call_later(0, explode)
            assert fires_within(timers, delay=0.02)
        assert any("timer callback failed" in record.message for record in caplog.records)
    finally:
        timers.stop()


def test_an_error_while_scheduling_is_logged_and_the_thread_keeps_serving(
    caplog: pytest.LogCaptureFixture,
) -> None:
    import time

    failures = [OverflowError("clock broke once")]

    def clock() -> float:
        if failures and threading.current_thread().name == "flaky-timers":
            raise failures.pop()
        return time.monotonic()

    timers = Timers(name="flaky-timers", clock=clock)
    try:
        with caplog.at_level(logging.ERROR, logger="actors.timers"):
            assert fires_within(timers)
        assert not failures
        assert any("timer thread" in record.message for record in caplog.records)
        assert fires_within(timers)
    finally:
        timers.stop()


def test_python_cancel_with_a_huge_deadline_is_refused_before_delivery(node: Node) -> None:
    with Probe(node, trap_links=True) as probe, Probe(node) as target:
        with pytest.raises(errors.Error) as info:
            probe.cancel(target.pid, deadline=1e10)
        assert info.value.kind() == errors.INVALID
        assert "deadline" in info.value.message()
        target.expect_nothing(within=0.05)  # no CANCEL event reached the target
        # The timer thread still serves: a short deadline terminates a process that ignores CANCEL.
        pid = probe.spawn(ignores_cancel, monitor=True)
        probe.cancel(pid, deadline=0.05)
        exit_event = probe.expect_exit(pid, timeout=5)
        assert exit_event.error is not None and exit_event.error.message() == "process terminated"


TARGET = """
local function main(parent)
  local events = process.events()
  while true do
    local event = events:receive()
    if event.kind == process.event.CANCEL then
      process.send(parent, "cancel", {reason = event.reason, deadline = event.deadline})
    end
  end
end
return {main = main}
"""

MAIN = """
local time = require("time")

local function main()
  local inbox = process.inbox()
  local target = process.spawn_monitored("app:target", "app:processes", process.pid())
  local result = {}

  local ok, err = process.cancel(target, 1e13)          -- 1e13 ms: ~317 years
  result.huge = {ok = ok, kind = err and err:kind(), message = err and err:message()}

  time.sleep("10ms")                                    -- needs the timer thread
  result.slept = true

  process.cancel(target, "first good cancel")           -- a reason, no deadline
  local first = inbox:receive()
  result.first_cancel = first:payload():data()

  process.cancel(target, 50)                            -- 50 ms deadline: the target ignores it
  inbox:receive()
  local event = process.events():receive()
  result.exit = {kind = event.kind, error = event.result.error and event.result.error:message()}
  return result
end
return {main = main}
"""


def test_lua_cancel_with_a_huge_deadline_is_refused_and_timers_keep_firing(tmp_path: Path) -> None:
    result = run_lua(
        tmp_path,
        MAIN,
        extra={"target.lua": TARGET},
        extra_entries=[lua_entry("target")],
    )
    assert "ok" not in result["huge"]  # nil, err
    assert result["huge"]["kind"] == errors.INVALID
    assert "deadline" in result["huge"]["message"]
    assert result["slept"] is True
    # The refused cancels delivered nothing: the first CANCEL the target saw is the good one.
    assert result["first_cancel"] == {"reason": "first good cancel"}
    assert result["exit"] == {"kind": "pid.exit", "error": "process terminated"}


def test_a_negative_delay_is_a_deadline_already_past() -> None:
    timers = Timers()
    try:
        fired = threading.Event()
        timers.call_later(-5.0, fired.set)
        assert fired.wait(2)
    finally:
        timers.stop()
