-- Answers each "who" with what it received: the sender, the topic, the data.
local function main()
    local who = process.listen("who", {message = true})
    local stop = process.listen("stop")
    while true do
        local r = channel.select{who:case_receive(), stop:case_receive()}
        if r.channel == stop then return "stopped" end
        local msg = r.value
        process.send(msg:from(), "ok", {from = msg:from(), topic = msg:topic(), data = msg:payload():data()})
    end
end

return {main = main}
