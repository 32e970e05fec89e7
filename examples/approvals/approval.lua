-- One approval, waiting for a decision for as long as it takes (days), with a
-- reminder every `remind_every` (default 24h). The timers are durable: they
-- fire on time even if the app was down in between.
local funcs = require("funcs")
local time = require("time")

local function main(request)
    local decisions = process.listen("decision")
    local remind_every = request.remind_every or "24h"
    local reminders = 0

    while true do
        local due = time.after(remind_every)
        local result = channel.select{decisions:case_receive(), due:case_receive()}
        if result.channel == decisions then
            local decision = result.value
            funcs.call("app:notify", {
                id = request.id, event = "decided", decision = decision.decision, by = decision.by,
            })
            return {id = request.id, decision = decision.decision, by = decision.by, reminders = reminders}
        end
        reminders = reminders + 1
        funcs.call("app:notify", {id = request.id, event = "reminder", count = reminders, to = request.approver})
    end
end

return { main = main }
