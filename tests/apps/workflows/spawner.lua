-- Seed 003, "Spawn com Monitoramento" and "Executando Workflows de Forma
-- Síncrona", from a process: start a workflow, wait for its EXIT.
local time = require("time")

local function main(entry, input, mode)
    if mode == "exec" then
        local result, err = process.exec(entry, "app:worker", input)
        return {result = result, error = err and {kind = err:kind(), message = err:message()}}
    end
    local pid, err = process.spawn_monitored(entry, "app:worker", input)
    if err then
        return {spawn_error = tostring(err)}
    end

    local events = process.events()
    local event = events:receive()

    if event.kind == process.event.EXIT then
        local result = event.result.value
        local error = event.result.error
        return {pid = pid, from = event.from, result = result, error = error and error:message()}
    end
    return {unexpected = event.kind}
end

return {main = main}
