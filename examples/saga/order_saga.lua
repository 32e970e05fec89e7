-- A durable order saga: charge, wait for the warehouse, ship; refund when
-- shipping fails. Every step is recorded by Temporal, so a crash anywhere
-- resumes here without charging twice: a finished step is never run again.
--
-- One step can run twice: an activity whose worker died before Temporal
-- heard back from it is retried. So each step that moves money or goods
-- carries an idempotency key made from the order ID (the same on every
-- attempt, every replay and every rerun of the saga), and the provider
-- behind it does the work once per key.
local funcs = require("funcs")
local time = require("time")

local function main(order)
    local payment, err = funcs.call("app:charge_payment", order, "charge-" .. order.id)
    if err then
        return {status = "failed", step = "payment", error = tostring(err)}
    end

    time.sleep("2s")  -- the warehouse packs the parcel (a durable timer)

    local shipment, err = funcs.call("app:ship_order", order, "ship-" .. order.id)
    if err then
        funcs.call("app:refund_payment", {order_id = order.id, payment_id = payment.id, amount = order.total},
                   "refund-" .. order.id)
        return {status = "refunded", payment_id = payment.id, reason = err:message()}
    end

    return {status = "completed", payment_id = payment.id, tracking = shipment.tracking}
end

return {main = main}
