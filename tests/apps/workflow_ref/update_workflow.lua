-- Updates whose handling leaves a trace before the reply: parked operations,
-- a nak after a trace, an error object, continue-as-new from an update.
local funcs = require("funcs")
local time = require("time")

local function main(input)
    local generation = input and input.generation or 1
    local topics = {"slow", "call", "traced_nak", "random_nak", "fail", "upgrade", "stop"}
    local channels = {}
    local cases = {}
    for i, topic in ipairs(topics) do
        channels[i] = process.listen(topic, {message = true})
        cases[i] = channels[i]:case_receive()
    end
    while true do
        local r = channel.select(cases)
        local msg = r.value
        local from = msg:from()
        local topic = msg:topic()
        local data = msg:payload() and msg:payload():data()
        if topic == "slow" then
            process.send(from, "ack")
            time.sleep("50ms")
            process.send(from, "ok", {slept = true, generation = generation})
        elseif topic == "call" then
            local doubled, err = funcs.call("app:double", data)
            if err then
                process.send(from, "nak", err)
            else
                process.send(from, "ok", doubled)
            end
        elseif topic == "traced_nak" then
            process.listen("late_topic")       -- changes the program's state: cannot be taken back
            process.send(from, "nak", "changed my mind")
        elseif topic == "random_nak" then
            local roll = math.random(1, 6)     -- consumes the recorded randomness
            process.send(from, "nak", "rolled " .. roll)
        elseif topic == "fail" then
            process.send(from, "ack")
            process.send(from, "error", errors.new({kind = errors.CONFLICT, message = "busy", retryable = false}))
        elseif topic == "upgrade" then
            process.send(from, "ack")
            process.send(from, "ok", {upgrading_from = generation})
            process.upgrade(nil, {generation = generation + 1})
        elseif topic == "stop" then
            process.send(from, "ok", {generation = generation})
            return {generation = generation}
        end
    end
end

return {main = main}
