-- "workflow.version()": deterministic versioning of a code change.
local funcs = require("funcs")
local workflow = require("workflow")

local function main(input)
    local result
    local version = workflow.version("payment-v2", 1, 2)

    if version == 1 then
        result = funcs.call("app:old_payment", input)
    else
        result = funcs.call("app:new_payment", input)
    end
    return {version = version, result = result}
end

return {main = main}
