-- Stands in for a payment provider's "create charge" call.
--
-- Real providers take an idempotency key and answer a repeated key with the
-- charge they already made instead of charging again: that is what makes a
-- retried activity harmless. Here the payment ID is derived from the key,
-- so a retry reports the same payment, as the provider would. Each call
-- logs one ledger line ("charged ... key=...").
local logger = require("logger")
local uuid = require("uuid")

return function(order, idempotency_key)
    local payment_id = "pay-" .. string.sub(uuid.v5("url", "actorflow:saga:" .. idempotency_key), 1, 8)
    logger:info(string.format("charged %s %.2f for %s", order.customer, order.total, order.id),
                {payment = payment_id, key = idempotency_key})
    return {id = payment_id}
end
