local logger = require("logger")
local uuid = require("uuid")

return function(order)
    local payment_id = "pay-" .. string.sub(uuid.v4(), 1, 8)
    logger:info(string.format("charged %s %.2f for %s", order.customer, order.total, order.id),
                {payment = payment_id})
    return {id = payment_id}
end
