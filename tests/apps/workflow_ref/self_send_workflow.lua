-- Sends itself a message (actorflow delivers it; the runtime drops it) and reads it back.
local function main()
    local notes = process.listen("note", {message = true})
    local ok, err = process.send(process.pid(), "note", {n = 1})
    local msg = notes:receive()
    return {ok = ok, err = err and tostring(err), data = msg:payload():data(),
            from_self = msg:from() == process.pid()}
end

return {main = main}
