local logger = require("logger")

-- Charging is keyed by the order's business ID upstream (the workflow ID): a
-- rerun after a crash finds the same workflow and never charges twice.
return function(charge)
    logger:info("charged", {customer = charge.customer, amount = charge.amount})
    return {id = "pay-" .. tostring(charge.customer) .. "-" .. tostring(charge.amount)}
end
