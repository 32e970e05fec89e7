-- Stands in for a courier's "book a delivery" call (idempotent by key: the
-- tracking number is the order's, so a retry books the same parcel).
local logger = require("logger")

return function(order, idempotency_key)
    if order.address == "" then
        logger:warn("no courier delivers to an empty address for " .. order.id)
        return nil, errors.new({kind = errors.UNAVAILABLE, message = "no courier for " .. order.id,
                                retryable = false})
    end
    local tracking = "TRK-" .. order.id
    logger:info("shipped " .. order.id .. " to " .. order.address, {tracking = tracking, key = idempotency_key})
    return {tracking = tracking}
end
