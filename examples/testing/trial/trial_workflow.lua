-- A trial of `trial.days` days: charged when it ends, unless "cancel" arrives first.
local funcs = require("funcs")
local time = require("time")

local DAY_MS = 24 * 3600 * 1000

local function main(trial)
    local began = time.now()
    local cancel = process.listen("cancel")
    local ends = time.after(trial.days * 24 .. "h")
    local r = channel.select{cancel:case_receive(), ends:case_receive()}
    local days = time.now():sub(began):milliseconds() // DAY_MS
    if r.channel == cancel then
        return {customer = trial.customer, status = "cancelled", after_days = days}
    end
    local receipt = funcs.call("app:charge", {customer = trial.customer, amount = trial.price})
    return {customer = trial.customer, status = "charged", receipt = receipt.id, after_days = days}
end

return {main = main}
