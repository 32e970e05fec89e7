local logger = require("logger")

return function(shipment)
    if shipment.address == nil or shipment.address == "" then
        return nil, errors.new({kind = errors.INVALID, message = "no shipping address"})
    end
    logger:info("shipped", {order = shipment.order_id})
    return {tracking_number = "TRK-" .. shipment.order_id}
end
