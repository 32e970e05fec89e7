"""The mailbox is flushed in arrival order across topics (spec §3, ``listen`` and ``inbox``).

Two messages waiting for two different listeners are handed over in the order
they arrived, so the coroutine woken by the first runs first.  The router
used to deliver by subscription order: a ``finish`` whose listener was opened
first overtook an ``increment`` sent before it, and Wippy's own
start-message test (one increment per spawn, then finish) lost an increment.
"""

from __future__ import annotations

from pathlib import Path

from .lua_support import run_lua

SOURCE = """
local function main()
    local seen = {}
    local finish = process.listen("finish")       -- the first subscription
    coroutine.spawn(function()
        local increments = process.listen("increment")
        while true do
            table.insert(seen, "increment " .. increments:receive())
        end
    end)
    coroutine.spawn(function()                    -- both land in one mailbox batch
        process.send(process.pid(), "increment", 1)
        process.send(process.pid(), "increment", 2)
        process.send(process.pid(), "finish", "now")
    end)
    table.insert(seen, "finish " .. finish:receive())
    return seen
end
return {main = main}
"""


def test_messages_for_different_listeners_are_handed_over_in_arrival_order(tmp_path: Path) -> None:
    assert run_lua(tmp_path, SOURCE, modules=()) == ["increment 1", "increment 2", "finish now"]


INBOX_AND_TOPIC = """
local function main()
    local seen = {}
    local done = process.listen("done")
    coroutine.spawn(function()
        local inbox = process.inbox()
        while true do
            local msg = inbox:receive()
            table.insert(seen, msg:topic())
        end
    end)
    coroutine.spawn(function()
        process.send(process.pid(), "a", 1)
        process.send(process.pid(), "b", 2)
        process.send(process.pid(), "done", 3)
    end)
    done:receive()
    table.insert(seen, "done")
    return seen
end
return {main = main}
"""


def test_inbox_messages_sent_first_are_seen_before_a_later_listened_topic(tmp_path: Path) -> None:
    # The inbox is unbuffered: "a" wakes the inbox reader, "b" waits for it to come back,
    # "done" wakes main; the reader ran first, so it saw "a" before main ended.
    assert run_lua(tmp_path, INBOX_AND_TOPIC, modules=())[0] == "a"
