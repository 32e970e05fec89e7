-- "Propagação de Contexto": ctx inside the workflow and inside its activities.
local ctx = require("ctx")
local funcs = require("funcs")

local function main(order)
    local user_id = ctx.get("user_id")       -- "user-1"
    local tenant = ctx.get("tenant")         -- "tenant-1"
    local all = ctx.all()                    -- {user_id="user-1", tenant="tenant-1", request_id="req-abc"}
    local in_activity = funcs.call("app:read_context")
    local with_extra = funcs.new():with_context({step = "billing"}):call("app:read_context")
    return {user_id = user_id, tenant = tenant, all = all, in_activity = in_activity, with_extra = with_extra}
end

return {main = main}
