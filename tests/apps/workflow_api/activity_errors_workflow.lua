-- "Erros de Activity" and "Modos de Falha de Activity".
local funcs = require("funcs")

local function main(mode, order)
    if mode == "risky" then
        local result, err = funcs.call("app:risky_activity", order)
        if err then
            return {kind = err:kind(), retryable = err:retryable(), message = err:message()}
        end
        return result
    end
    local executor = funcs.new():with_options({
        ["activity.retry_policy"] = {
            maximum_attempts = 1,
        }
    })

    local result, err = executor:call("app:unreliable_activity", order)
    if err then
        local kind = err:kind()         -- "INTERNAL" para erros de runtime
        local retryable = err:retryable()
        return {kind = kind, retryable = retryable, message = err:message()}
    end
    return result
end

return {main = main}
