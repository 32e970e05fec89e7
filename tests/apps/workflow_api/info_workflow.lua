-- "workflow.info()" and "workflow.history_length() / history_size()".
local workflow = require("workflow")

local function main()
    local info = workflow.info()
    local length = workflow.history_length()
    local size = workflow.history_size()
    return {info = info, length = length, size = size}
end

return {main = main}
