-- "workflow.attrs()": search attributes and memo.
local workflow = require("workflow")

local function main(order)
    workflow.attrs({
        search = {
            status = "processing",
            customer_id = order.customer_id,
            order_total = order.total
        },
        memo = {
            notes = "Priority customer",
            source = "web"
        }
    })
    local done = process.listen("done")
    done:receive()
    return "ok"
end

return {main = main}
