-- Waits for "stop" (returns its payload), a CANCEL event (returns what it saw), or "fail".
local function main()
    local stop = process.listen("stop")
    local events = process.events()
    local r = channel.select{stop:case_receive(), events:case_receive()}
    if r.channel == events then
        return {saw = r.value.kind, from = r.value.from}
    end
    if r.value == "fail" then
        return nil, errors.new({kind = errors.CONFLICT, message = "told to fail", retryable = false})
    end
    return {stopped = r.value}
end

return {main = main}
