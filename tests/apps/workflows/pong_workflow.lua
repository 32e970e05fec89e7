-- Answers the seed's ping from another workflow.
local function main()
    local ch = process.listen("cross_host_ping", {message = true})
    local msg = ch:receive()
    process.send(msg:from(), "cross_host_pong", {echo = msg:payload():data().data, from = process.pid()})
    return {pinged_by = msg:from()}
end

return {main = main}
