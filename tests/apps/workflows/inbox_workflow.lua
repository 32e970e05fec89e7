-- Seed 003, "Padrão Inbox": receive every message through the process inbox.
local funcs = require("funcs")

local function process_order(order)
    return funcs.call("app:fulfill", order)
end

local function main(order)
    local inbox = process.inbox()

    while true do
        local msg = inbox:receive()
        local topic = msg:topic()
        local data = msg:payload():data()

        if topic == "approve" then
            break
        elseif topic == "cancel" then
            return {status = "cancelled", reason = data.reason}
        end
    end

    return process_order(order)
end

return {main = main}
