-- The details an activity's error comes back with: _wrapper, _activity_id, _retry_state.
local funcs = require("funcs")

local function details(value, err)
    if not err then return {value = value} end
    return {kind = err:kind(), message = err:message(), retryable = err:retryable(), details = err:details()}
end

local function main()
    local once = funcs.new():with_options({
        ["activity.id"] = "flaky-1",
        ["activity.retry_policy"] = {maximum_attempts = 1},
    })
    return {
        non_retryable = details(funcs.call("app:double", "x")),
        attempts_exhausted = details(once:call("app:flaky")),
    }
end

return {main = main}
