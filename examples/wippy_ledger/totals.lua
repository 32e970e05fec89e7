-- Adds up the ledger events it hears; answers "report" requests as "ledger.totals".
local events = require("events")
local logger = require("logger")

local function main(): boolean
  local sub = events.subscribe("ledger")
  process.registry.register("ledger.totals")
  local totals: {[string]: integer} = {}
  local rejected = 0
  local inbox, lifecycle, heard = process.inbox(), process.events(), sub:channel()
  while true do
    local r = channel.select({heard:case_receive(), inbox:case_receive(), lifecycle:case_receive()})
    if r.channel == lifecycle then
      if r.value.kind == process.event.CANCEL then return true end
    elseif r.channel == heard then
      local event = r.value
      if event.kind == "booked" then
        totals[event.data.who] = (totals[event.data.who] or 0) + event.data.cents
      else
        rejected = rejected + 1
        logger:warn("rejected", {line = event.data.line})
      end
    else
      local request = r.value:payload():data()
      process.send(request.reply_to, "report", {totals = totals, rejected = rejected})
    end
  end
end

return {main = main}
