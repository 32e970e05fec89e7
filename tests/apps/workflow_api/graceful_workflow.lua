-- "Cancelar": the workflow sees CANCEL and can finish gracefully.
local function main()
    local events = process.events()
    local event = events:receive()
    return {saw = event.kind, from = event.from, deadline = event.deadline, at = event.at}
end

return {main = main}
