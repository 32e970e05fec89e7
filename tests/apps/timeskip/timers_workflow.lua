-- Seed 003, "Timers": durable sleeps and elapsed time, as the document writes them.
local time = require("time")

local function main()
    local began = time.now()
    time.sleep("24h")
    time.sleep("5m")
    time.sleep("30s")
    time.sleep(100 * time.MILLISECOND)

    local start = time.now()
    time.sleep("1s")
    local elapsed = time.now():sub(start):milliseconds()
    return {elapsed = elapsed, total = time.now():sub(began):milliseconds()}
end

return {main = main}
