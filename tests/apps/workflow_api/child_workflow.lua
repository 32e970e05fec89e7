local time = require("time")

local function main(input)
    if input and input.wait then
        time.sleep(input.wait)
    end
    return {echo = input, child = process.pid()}
end

return {main = main}
