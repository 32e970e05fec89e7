-- Seed 003, "Confirmação de Sinal", the caller side (a process).
local time = require("time")

local function main(workflow_pid)
    local response_ch = process.listen("status_response")
    process.send(workflow_pid, "get_status", {})

    local timeout = time.after("5s")
    local result = channel.select{
        response_ch:case_receive(),
        timeout:case_receive()
    }

    if result.channel == response_ch then
        local status = result.value
        return status
    end
    return {timed_out = true}
end

return {main = main}
