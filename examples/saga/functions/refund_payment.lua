-- Stands in for a payment provider's "refund" call (idempotent by key, like the charge).
local logger = require("logger")

return function(refund, idempotency_key)
    logger:info(string.format("refunded %.2f of %s for %s", refund.amount, refund.payment_id, refund.order_id),
                {key = idempotency_key})
    return true
end
