-- Calls the activities the app declares, each as its entry says.
local funcs = require("funcs")

local function outcome(value, err)
    if err then return {kind = err:kind(), message = err:message()} end
    return value
end

local function main()
    local on_main_queue = funcs.new():with_options({["activity.task_queue"] = "ref-main"})
    local local_with_queue = funcs.new():with_options({["activity.task_queue"] = "ref-main"})
    return {
        plain = outcome(funcs.call("app:double", 1)),                 -- no meta: this workflow's queue
        remote = outcome(funcs.call("app:remote_double", 2)),         -- on app:acts's queue
        local_call = outcome(funcs.call("app:local_double", 3)),      -- a local activity
        foreign_local = outcome(funcs.call("app:foreign_local_double", 4)),
        remote_elsewhere = outcome(on_main_queue:call("app:remote_double", 5)),
        local_with_queue = outcome(local_with_queue:call("app:local_double", 6)),
    }
end

return {main = main}
