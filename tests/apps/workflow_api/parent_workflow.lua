-- Children: "workflow.exec", "Filho Assíncrono (process.spawn)",
-- "Propagação de Erros de Filhos" and "process.exec" from a workflow.
local workflow = require("workflow")

local function sync_child(input_data)
    local result, err = workflow.exec("app:child_workflow", input_data)
    if err then
        return nil, err
    end
    return result
end

local function async_child()
    local events_ch = process.events()

    local child_pid, err = process.spawn(
        "app:child_workflow",
        "app:worker",
        {message = "hello from parent"}
    )
    if err then
        return {status = "spawn_failed", error = tostring(err)}
    end

    -- Aguarda evento EXIT do filho
    local event = events_ch:receive()

    if event.kind == process.event.EXIT then
        local child_result = event.result.value
        local child_error = event.result.error
        return {from_child = event.from == child_pid, value = child_result, error = child_error}
    end
end

local function error_child()
    local events_ch = process.events()
    local child_pid, err = process.spawn(
        "app:error_child_workflow",
        "app:worker"
    )

    local event = events_ch:receive()
    if event.result.error then
        local child_err = event.result.error
        return {kind = child_err:kind(), retryable = child_err:retryable(), message = child_err:message()}
    end
end

local function exec_error()
    local result, err = process.exec("app:error_child_workflow", "app:worker")
    if err then
        return {kind = err:kind(), retryable = err:retryable(), message = err:message()}
    end
    return result
end

local function exec_hello()
    local result, err = process.exec(
        "app:child_workflow",
        "app:worker",
        {name = "world"}
    )
    if err then
        return nil, err
    end
    return result
end

local function main(mode, input)
    if mode == "sync" then return sync_child(input) end
    if mode == "async" then return async_child() end
    if mode == "error" then return error_child() end
    if mode == "exec_error" then return exec_error() end
    if mode == "exec" then return exec_hello() end
    if mode == "orphan" then
        local spawner = process.with_options({["temporal.workflow.parent_close_policy"] = input.policy,
                                               ["temporal.workflow.id"] = input.child_id})
        local pid = spawner:spawn("app:child_workflow", "app:worker", {wait = "1h"})
        return pid
    end
    return nil, errors.new({kind = errors.INVALID, message = "unknown mode " .. tostring(mode)})
end

return {main = main}
