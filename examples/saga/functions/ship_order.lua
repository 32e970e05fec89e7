local logger = require("logger")

return function(order)
    if order.address == "" then
        logger:warn("no courier delivers to an empty address for " .. order.id)
        return nil, errors.new({kind = errors.UNAVAILABLE, message = "no courier for " .. order.id,
                                retryable = false})
    end
    local tracking = "TRK-" .. order.id
    logger:info("shipped " .. order.id .. " to " .. order.address, {tracking = tracking})
    return {tracking = tracking}
end
