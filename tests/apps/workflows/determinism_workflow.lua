-- Values that would differ between worker processes if the driver did not
-- pin them: the worker's time zone (os.date, os.time{...}, time.localtz) and addresses
-- (tostring of a table or function). Each one picks a branch, so a replay in
-- a process that saw another value would schedule other commands and fail.
local funcs = require("funcs")
local time = require("time")

local function main()
    local seen = {
        hour = os.date("%H", 0),
        midnight = os.time({year = 2026, month = 12, day = 1, hour = 0}),
        names = tostring({}) .. " " .. tostring(main),
        local_clock = time.unix(0, 0):in_local():format("15:04") .. " " .. time.date(2026, 12, 1, 0, 0, 0, 0):unix(),
    }
    if seen.hour == "00" then funcs.call("app:echo_activity", {job_id = "utc", data = 1}) else time.sleep("1ms") end
    if seen.midnight == 1796083200 then funcs.call("app:echo_activity", {job_id = "utc-midnight", data = 2})
    else time.sleep("1ms") end
    if seen.local_clock == "00:00 1796083200" then funcs.call("app:echo_activity", {job_id = "utc-local", data = 4})
    else time.sleep("1ms") end
    if seen.names == "table: 0x00000001 function: 0x00000002" then
        funcs.call("app:echo_activity", {job_id = "numbered", data = 3})
    else
        time.sleep("1ms")
    end
    local ok, err = pcall(function()
        local by_table = {[{}] = "a", [{}] = "b"}
        for key in pairs(by_table) do funcs.call("app:echo_activity", {job_id = tostring(key), data = 0}) end
    end)
    seen.table_keys = tostring(err)
    return seen
end

return {main = main}
