-- Starts one saga per order, monitors them, and reports how each ended.
--
-- Money moves here, so every ID is a business ID, never a random one: the
-- saga of order X is the workflow "order-saga-X". Run the same orders again
-- (after a crash, a timeout, or by mistake) and no order is charged twice:
--
-- * a saga still running (the app died half-way; Temporal kept the saga) is
--   joined, not started again: an explicit workflow ID means
--   id_conflict_policy use_existing;
-- * a saga that already ended is not run again (id_reuse_policy
--   reject_duplicate): its stored outcome is read by monitoring it.
--
-- With a random workflow ID, a rerun would start a second saga for the same
-- order, and both would charge the customer.
local logger = require("logger")

local WORKER = "app:worker"
local CLIENT = "app:temporal_client"

local function saga_id(order)
    return "order-saga-" .. order.id
end

local function start_saga(order)
    local pid, err = process.with_options({
        ["temporal.workflow.id"] = saga_id(order),
        ["temporal.workflow.id_reuse_policy"] = "reject_duplicate",
    }):spawn_monitored("app:order_saga", WORKER, order)
    if err and err:kind() == errors.ALREADY_EXISTS then
        -- This order's saga has ended before: monitoring it delivers its
        -- stored outcome at once, and nothing runs again.
        pid = string.format("{%s@%s|%s}", CLIENT, WORKER, saga_id(order))
        local _, monitor_err = process.monitor(pid)
        if monitor_err then return nil, monitor_err end
        logger:info(order.id .. " was processed before by workflow " .. pid .. ": not charging again")
        return pid
    end
    if err then return nil, err end
    logger:info("started the saga for " .. order.id .. " as workflow " .. pid)
    return pid
end

local function main(orders)
    local events = process.events()
    local names = {}
    for _, order in ipairs(orders) do
        if type(order.id) ~= "string" or not string.match(order.id, "^[%w_.-]+$") then
            return nil, errors.new({kind = errors.INVALID,
                                    message = "an order needs an id of letters, digits, '_', '.' or '-'"})
        end
        local pid, err = start_saga(order)
        if err then return nil, err end
        names[pid] = order.id
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
