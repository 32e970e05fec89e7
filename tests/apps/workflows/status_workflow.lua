-- Seed 003, "Confirmação de Sinal", the workflow side.
local function main()
    local ch = process.listen("get_status", {message = true})
    local msg = ch:receive()
    process.send(msg:from(), "status_response", {status = "processing", progress = 75})
    return "answered"
end

return {main = main}
