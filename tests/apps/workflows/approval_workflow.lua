-- Seed 004, "Waiting for Signals", inside a main function.
local funcs = require("funcs")

local function main(request)
    funcs.call("app.approvals:submit", request)

    local inbox = process.inbox()
    local msg = inbox:receive()  -- blocks until signal arrives

    if msg.approved then
        funcs.call("app.orders:fulfill", request.order_id)
    else
        funcs.call("app.notifications:send_rejection", request)
    end
    return {approved = msg.approved == true}
end

return {main = main}
