"""``process.upgrade`` on a process host (spec §4): the running process goes on in new code.

It keeps its PID, mailbox, links, monitors, names and options; the arguments
become the new main's; a failed upgrade ends the process with the error.
(In a workflow it is continue-as-new: tests/test_workflow_process_relations.py.)
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from actorflow.app import App
from actors import Error, Probe, errors

from .lua_support import HOST, lua_entry, write_app

FILES = {
    "counter.lua": """
        -- Upgrades itself (the same entry, reloaded) until the third generation.
        return {main = function(generation, pids)
            pids = pids or {}
            table.insert(pids, process.pid())
            if generation < 3 then
                process.upgrade(nil, generation + 1, pids)
                error("process.upgrade returned")
            end
            return {generation = generation, pids = pids, entry = process.id()}
        end}
    """,
    "v1.lua": """
        -- The old code: registers a name, subscribes, leaves messages unread, upgrades to v2.
        local function main(probe)
            process.registry.register("upgraded-service")
            process.set_options({trap_links = true})
            local go = process.listen("go")
            local e = process.listen("e")                      -- raw: a value waits in its buffer
            local b = process.listen("b", {message = true})    -- messages: one waits in its buffer
            coroutine.spawn(function()
                local d = process.listen("d")
                d:receive()                                    -- handed "d", but never runs with it
                error("the old code read d")
            end)
            -- One mailbox batch, flushed in order once both tasks wait: "go" wakes main, "d" is
            -- handed to the coroutine (which never runs again: main upgrades first), "e" and "b"
            -- wait in their channels' buffers, "c" (no listener) stays in the mailbox.
            local me = process.pid()
            for _, topic in ipairs({"go", "d", "e", "b", "c"}) do
                process.send(me, topic, topic .. "1")
            end
            process.send(probe, "ready", me)
            go:receive()
            process.upgrade("app:v2", {from_version = 1, probe = probe})
            error("process.upgrade returned")
        end
        return {main = main}
    """,
    "v2.lua": """
        -- The new code: reads what the old code left, answers, then waits for "stop".
        local function main(state)
            local seen = {}
            local function take(topic)
                local msg = process.listen(topic, {message = true}):receive()
                table.insert(seen, {topic = msg:topic(), from = msg:from(), data = msg:payload():data()})
            end
            take("d")
            take("e")
            take("b")
            local inbox = process.inbox()
            local c = inbox:receive()
            table.insert(seen, {topic = c:topic(), from = c:from(), data = c:payload():data()})
            local options = process.get_options()
            local named = process.registry.lookup("upgraded-service")
            process.send(state.probe, "upgraded", {
                state = state, seen = seen, entry = process.id(), trap_links = options.trap_links,
                name_is_mine = named == process.pid(),
            })
            local event = process.events():receive()          -- the LINK_DOWN of a linked process
            return {event = event.kind, error = event.result.error:message()}
        end
        return {main = main}
    """,
    "upgrader.lua": """
        return {main = function(target, catch)
            if catch then
                local ok, err = pcall(process.upgrade, target)
                return {caught = ok, err = tostring(err)}
            end
            process.upgrade(target, "argument")
        end}
    """,
    "broken.lua": """
        local x = nil
        local y = x.field    -- fails while the new code loads
        return {main = function() end}
    """,
}

ENTRIES = [
    HOST,
    lua_entry("counter"),
    lua_entry("v1"),
    lua_entry("v2"),
    lua_entry("upgrader"),
    lua_entry("broken"),
]


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[App]:
    app_dir = write_app(tmp_path_factory.mktemp("upgrade"), ENTRIES, FILES)
    with App(app_dir, extensions=[]) as running:
        yield running


@pytest.fixture
def probe(app: App) -> Iterator[Probe]:
    assert app.node is not None
    with Probe(app.node, trap_links=True, default_timeout=10) as probe:
        yield probe


def test_the_same_entry_reloaded_keeps_the_pid_and_takes_the_new_arguments(app: App) -> None:
    result = app.exec("app:counter", 1, timeout=10)
    assert result["generation"] == 3 and result["entry"] == "app:counter"
    assert len(result["pids"]) == 3 and len(set(result["pids"])) == 1


def test_another_entry_keeps_mailbox_links_monitors_names_and_options(app: App, probe: Probe) -> None:
    pid = probe.spawn("app:v1", str(probe.pid), monitor=True)
    assert probe.expect_message("ready").payload == str(pid)

    async def linked_then_fails(proc: object, target: str) -> None:
        proc.link(target)  # type: ignore[attr-defined]
        await proc.listen("fail").receive()  # type: ignore[attr-defined]
        raise Error(errors.CONFLICT, "the linked helper failed")

    upgraded = probe.expect_message("upgraded").payload
    assert upgraded["entry"] == "app:v2"
    assert upgraded["state"] == {"from_version": 1, "probe": str(probe.pid)}  # the new main's argument
    assert upgraded["trap_links"] is True and upgraded["name_is_mine"] is True
    assert upgraded["seen"] == [
        {"topic": "d", "from": "", "data": "d1"},  # a raw channel's value: its sender is not kept
        {"topic": "e", "from": "", "data": "e1"},
        {"topic": "b", "from": str(pid), "data": "b1"},
        {"topic": "c", "from": str(pid), "data": "c1"},
    ]
    helper = probe.spawn(linked_then_fails, str(pid))  # links first, then fails when told
    probe.send(helper, "fail")
    exit_event = probe.expect_exit(pid)  # the monitor set on the old code sees the new code end
    assert exit_event.error is None
    assert exit_event.value == {"event": "pid.link.down", "error": "the linked helper failed"}
    assert app.node.whereis("upgraded-service") is None  # released when it ended


@pytest.mark.parametrize(
    ("target", "kind", "message"),
    [
        ("app:nope", errors.NOT_FOUND, "process.upgrade: entry 'app:nope' not found"),
        ("app:processes", errors.INVALID, "process.upgrade: app:processes is a process.host, not Lua code"),
        ("app:broken", errors.INVALID, "broken.lua:3: attempt to index a nil value"),  # as a spawn says
    ],
)
def test_a_failed_upgrade_ends_the_process_with_the_error(
    probe: Probe, target: str, kind: str, message: str
) -> None:
    pid = probe.spawn("app:upgrader", target, monitor=True)
    event = probe.expect_exit(pid)
    assert event.error is not None and event.error.kind() == kind
    assert event.error.message().startswith(message)
    # pcall cannot catch it: the process ends all the same.
    caught = probe.spawn("app:upgrader", target, True, monitor=True)
    assert probe.expect_exit(caught).error is not None


def test_the_old_codes_coroutines_and_timers_end(tmp_path: Path) -> None:
    """A coroutine of the old code, asleep when the upgrade happens, never runs again."""
    from .lua_support import run_lua

    source = """
    local time = require("time")
    return {main = function(step)
        if step == 1 then
            local ready = channel.new()
            coroutine.spawn(function()
                ready:send(true)       -- main is waiting: the send completes, and we go on
                time.sleep("50ms")     -- asleep when main (runnable since the send) upgrades
                process.send(process.pid(), "late", "the old coroutine ran")
            end)
            ready:receive()
            process.upgrade(nil, 2)
        end
        local late = process.listen("late")
        time.sleep("150ms")
        local r = channel.select({late:case_receive()}, true)
        return {step = step, late = r.value or "nothing"}
    end}
    """
    assert run_lua(tmp_path, source, 1, modules=("time",)) == {"step": 2, "late": "nothing"}
