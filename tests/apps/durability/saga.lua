-- An order saga driven by numbered signals, for the durability scenario.
--
-- It reserves stock, then takes the order's signals ("update", {n = 1..8}),
-- two per step: after signals 1-2 it charges, after 3-4 it packs, after 5-6
-- it ships, after 7-8 it delivers. The scenario sends each round of two
-- signals at a different moment (some while no worker runs) and kills the
-- worker or restarts the server while a step's wave of activities runs.
--
-- The result lists the signals in the order the workflow received them and
-- each step's ledger receipt, so the scenario can check that none was lost,
-- reordered or taken from a run that Temporal did not record.
local funcs = require("funcs")
local workflow = require("workflow")

local STEPS = {"reserve", "charge", "pack", "ship", "deliver"}
local SIGNALS_PER_STEP = 2

-- Short start-to-close timeout: an attempt lost with a killed worker is retried
-- after 4 s instead of the default 10 minutes. Each step runs for a fraction of
-- a second, and the worker starts no more activities than it runs at once.
local steps = funcs.new():with_options({
    ["activity.start_to_close_timeout"] = "4s",
    ["activity.retry_policy"] = {
        initial_interval = "200ms",
        backoff_coefficient = 2,
        maximum_interval = "1s",
    },
})

local function main(order)
    local id = workflow.info().workflow_id
    local inbox = process.inbox()
    local signals = {}
    local receipts = {}
    for index, step in ipairs(STEPS) do
        for _ = 1, (index == 1) and 0 or SIGNALS_PER_STEP do
            local msg = inbox:receive()
            local data = msg:payload():data()
            table.insert(signals, {topic = msg:topic(), n = data.n})
        end
        local receipt, err = steps:call("app:" .. step, id, step, order.id)
        if err then
            return {status = "failed", step = step, error = tostring(err), signals = signals}
        end
        table.insert(receipts, receipt)
    end
    return {status = "completed", order = order.id, signals = signals, receipts = receipts}
end

return {main = main}
