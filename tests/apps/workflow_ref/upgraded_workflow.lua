local ctx = require("ctx")
local workflow = require("workflow")

return {main = function(state)
    return {seen = state.seen, type = workflow.info().workflow_type, pid = process.pid(),
            tenant = ctx.get("tenant")}
end}
