-- Starts one saga per order, monitors them, and reports how each ended.
local logger = require("logger")

local function main(orders)
    local events = process.events()
    local names = {}
    for _, order in ipairs(orders) do
        local pid, err = process.spawn_monitored("app:order_saga", "app:worker", order)
        if err then return nil, err end
        names[pid] = order.id
        logger:info("started the saga for " .. order.id .. " as workflow " .. pid)
    end

    local outcome = {}
    for _ = 1, #orders do
        local event = events:receive()               -- EXIT when a workflow closes
        local id = names[event.from]
        local result = event.result.value
        if event.result.error then
            outcome[id] = {status = "error", error = tostring(event.result.error)}
        else
            outcome[id] = result
        end
        logger:info(id .. " ended: " .. outcome[id].status)
    end
    return outcome
end

return {main = main}
