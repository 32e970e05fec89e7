local logger = require("logger")

return function(payment_id)
    logger:info("refunded", {payment = payment_id})
    return true
end
