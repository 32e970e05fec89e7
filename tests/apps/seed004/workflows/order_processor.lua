-- Waits for the "update" the seed sends, then reports it.
local time = require("time")

local function main(order_data)
    local update = process.listen("update"):receive()
    time.sleep("10ms")
    return {order = order_data.id, status = update.status}
end

return {main = main}
