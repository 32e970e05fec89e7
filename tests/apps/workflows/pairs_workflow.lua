-- Calls an activity for every key of a table, in pairs() order: replay on
-- another worker process must see the same order (a fixed string hash seed).
local funcs = require("funcs")

local function main()
    local stock = {}
    for _, name in ipairs({"apple", "kiwi", "mango", "pear", "plum", "fig", "lime", "date",
                           "grape", "melon", "peach", "lemon", "cherry", "banana", "papaya", "guava"}) do
        stock[name] = #name
    end
    local order = {}
    for name, count in pairs(stock) do
        funcs.call("app:echo_activity", {job_id = name, data = count})
        order[#order + 1] = name
    end
    return order
end

return {main = main}
