-- A child spawned with a raw task queue as its host (the runtime's quirk), and with a worker ID.
local funcs = require("funcs")

local function main()
    local events = process.events()
    local by_queue = process.spawn("app:self_send_workflow", "ref-main")
    local first = events:receive()
    local by_worker = process.spawn("app:self_send_workflow", "app:worker")
    local second = events:receive()
    local retried = funcs.call("app:flaky_once", "twice?")   -- no retry policy: Temporal's default
    return {
        by_queue = by_queue, by_queue_exit = first.from == by_queue and first.result.value.ok,
        by_worker = by_worker, by_worker_exit = second.from == by_worker and second.result.value.ok,
        retried = retried,
    }
end

return {main = main}
