-- Process-side code of the tests/test_workflow_*.py files that use this app; `mode` selects one.
local time = require("time")
local temporal = require("temporal")

local modes = {}

-- Issue 17, item 6: the EXIT of a workflow started with start messages carries its result.
function modes.start_messages_exit(options)
    local spawner = process.with_options(options or {})
        :with_message("increment", {amount = 2})
        :with_message("increment", {amount = 3})
    local pid, err = spawner:spawn_monitored("app:counter_workflow", "app:worker", {initial = 1})
    if err then return nil, err end
    local replies = {}
    local inbox = process.inbox()
    for _ = 1, 4 do
        local msg = inbox:receive()
        table.insert(replies, msg:topic())
    end
    process.send(pid, "finish")
    local event = process.events():receive()
    return {kind = event.kind, from = event.from == pid, value = event.result.value,
            error = event.result.error and tostring(event.result.error), replies = replies}
end

-- Wippy's startup_messages_explicit_id_use_existing test, as a mode.
function modes.wippy_use_existing(workflow_id)
    local events_ch = process.events()
    local first = process.with_options({["temporal.workflow.id"] = workflow_id})
        :with_message("increment", {amount = 4})
    local pid, err = first:spawn_monitored("app:signal_updates_workflow", "app:worker", {initial = 0})
    if err then return nil, err end
    local second = process.with_options({["temporal.workflow.id"] = workflow_id})
        :with_message("increment", {amount = 1})
    local pid2, err2 = second:spawn("app:signal_updates_workflow", "app:worker", {initial = 999})
    if err2 then return nil, err2 end
    process.send(pid, "finish", {})
    local deadline = time.after("10s")
    while true do
        local r = channel.select{events_ch:case_receive(), deadline:case_receive()}
        if r.channel == deadline then return nil, "timeout waiting for exit" end
        local event = r.value
        if event.from == pid and event.kind == process.event.EXIT then
            return {same = pid2 == pid, value = event.result.value,
                    error = event.result.error and tostring(event.result.error)}
        end
    end
end

-- Updates and queries from a Lua process, through the temporal module.
function modes.lua_updates(pid)
    local value, err = temporal.update(pid, "increment", {amount = 2})
    local _, nak = temporal.update(pid, "increment", {amount = "x"})
    local workflow_id = temporal.query(pid, "pid")
    local state = temporal.query(pid, "state")
    local _, unknown_query = temporal.query(pid, "nope")
    local _, unknown_workflow = temporal.update(
        "{app:temporal_client@app:worker|no-such-workflow}", "increment", {amount = 1})
    local _, not_a_workflow = temporal.update(process.pid(), "increment", {amount = 1})
    local function describe(e) return e and {kind = e:kind(), message = e:message()} end
    return {value = value, err = describe(err), nak = describe(nak), workflow_id = workflow_id,
            state = state, unknown_query = describe(unknown_query),
            unknown_workflow = describe(unknown_workflow), not_a_workflow = describe(not_a_workflow)}
end

-- A process linked to a workflow that completes normally gets EXIT, and runs on.
function modes.linked_completion()
    local pid = process.spawn_linked("app:waiting_workflow", "app:worker")
    process.send(pid, "stop", "done")
    local event = process.events():receive()
    return {kind = event.kind, from = event.from == pid, value = event.result.value,
            still_running = true}
end

-- Monitoring a workflow that has closed gives its stored outcome at once; an unknown one NOT_FOUND.
function modes.monitor_closed_and_unknown()
    local events = process.events()
    local pid = process.spawn_monitored("app:waiting_workflow", "app:worker")
    process.send(pid, "stop", "first")
    local first = events:receive()
    local ok = process.monitor(pid)
    local again = events:receive()
    local failed = process.spawn_monitored("app:waiting_workflow", "app:worker")
    process.send(failed, "stop", "fail")
    events:receive()
    process.monitor(failed)
    local failed_again = events:receive()
    local unknown = "{app:temporal_client@app:worker|never-existed}"
    local unknown_ok = process.monitor(unknown)
    local missing = events:receive()
    return {
        first = first.result.value, ok = ok, again = {kind = again.kind, from = again.from == pid,
        value = again.result.value}, failed_again = failed_again.result.error:message(),
        unknown_ok = unknown_ok,
        missing = {kind = missing.kind, from = missing.from, error_kind = missing.result.error:kind()},
    }
end

-- Issue 13, item 6: a workflow ID made from a PID ('{', '|', '}') round-trips through its PID,
-- and a send nobody can route is an error.
function modes.custom_id()
    local id = "counter-" .. process.pid()
    local pid, err = process.with_options({["temporal.workflow.id"] = id})
        :spawn_monitored("app:counter_workflow", "app:worker", {initial = 0})
    if err then return nil, err end
    local sent, send_err = process.send(pid, "increment", {amount = 2})
    local inbox = process.inbox()
    local ack = inbox:receive()
    local ok = inbox:receive()
    process.send(ack:from(), "finish")                  -- reply to the PID the workflow gave
    local finish_ack = inbox:receive()
    local event = process.events():receive()
    local function kind(_, e) return e and e:kind() or "delivered" end
    return {
        pid = pid, id = id, sent = sent, send_err = send_err and tostring(send_err),
        replies = {ack:topic(), ok:topic(), finish_ack:topic()},
        from_is_pid = ack:from() == pid, value = ok:payload():data(),
        exit = event.result.value,
        unknown_host = kind(process.send("{nohost|0x00001}", "x", 1)),
        unknown_node = kind(process.send("{ghost@app:processes|0x00001}", "x", 1)),
        unknown_workflow = kind(process.send("{app:temporal_client@app:worker|no-such-workflow}", "x", 1)),
    }
end

local function main(mode, ...)
    return modes[mode](...)
end

return {main = main}
