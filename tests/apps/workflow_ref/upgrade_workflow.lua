-- process.upgrade in a workflow: continue-as-new, the same entry with new arguments, then another.
local ctx = require("ctx")

local function main(generation, seen)
    seen = seen or {}
    table.insert(seen, {generation = generation, pid = process.pid(), tenant = ctx.get("tenant")})
    if generation < 3 then
        process.upgrade(nil, generation + 1, seen)
    end
    process.upgrade("app:upgraded_workflow", {seen = seen})
end

return {main = main}
