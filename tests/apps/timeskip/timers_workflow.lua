-- Seed 003, "Timers": durable sleeps and elapsed time.
local time = require("time")

local function main()
    time.sleep("30s")
    time.sleep("5m")
    time.sleep(100 * time.MILLISECOND)

    local start = time.now()
    time.sleep("1s")
    local elapsed = time.now():sub(start):milliseconds()
    return {elapsed = elapsed}
end

return {main = main}
