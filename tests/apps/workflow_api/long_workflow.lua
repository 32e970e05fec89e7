-- A workflow that runs until told: monitoring, linking, terminating.
local time = require("time")

local function main(input)
    local stop = process.listen("stop")
    for i = 1, input.iterations do
        local r = channel.select{stop:case_receive(), time.after("100ms"):case_receive()}
        if r.channel == stop then
            if r.value == "fail" then
                return nil, errors.new({kind = errors.CONFLICT, message = "told to fail", retryable = false})
            end
            return {stopped_at = i}
        end
    end
    return {iterations = input.iterations}
end

return {main = main}
