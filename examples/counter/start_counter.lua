-- Start the counter with three start messages (2 + 1 + 4), name it "counter"
-- for `actorflow send`, and stay until it finishes.
--
-- The workflow ID is the name, so a restart of the app finds the running
-- counter (use_existing) instead of starting another; as the seed says, the
-- start messages are then delivered to it again.
local logger = require("logger")

local function main()
    local spawner = process
        .with_options({})
        :with_name("counter-workflow")
        :with_message("increment", {amount = 2})
        :with_message("increment", {amount = 1})
        :with_message("increment", {amount = 4})

    local pid, err = spawner:spawn_monitored("app:counter_workflow", "app:worker", {initial = 0})
    if err then
        return nil, err
    end
    process.registry.register("counter", pid)
    logger:info("counter started", {pid = tostring(pid)})

    local events = process.events()
    while true do
        local event = events:receive()
        if event.kind == process.event.EXIT then
            logger:info("counter finished", {result = event.result.value})
            return event.result.value
        elseif event.kind == process.event.CANCEL then
            return nil  -- the app is stopping; the counter goes on in Temporal
        end
    end
end

return { main = main }
