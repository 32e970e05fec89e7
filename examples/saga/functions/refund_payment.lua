local logger = require("logger")

return function(refund)
    logger:info(string.format("refunded %.2f of %s for %s", refund.amount, refund.payment_id, refund.order_id))
    return true
end
