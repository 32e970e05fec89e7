-- Counts the to-do events it subscribed to; answers "counts" requests as "todo.auditor".
local events = require("events")
local logger = require("logger")

local function main(): boolean
  local subscription, err = events.subscribe("todo")
  if err then error(err) end
  process.registry.register("todo.auditor")
  local counts: {[string]: integer} = {}
  local inbox, lifecycle, seen = process.inbox(), process.events(), subscription:channel()
  while true do
    local r = channel.select({seen:case_receive(), inbox:case_receive(), lifecycle:case_receive()})
    if r.channel == lifecycle then
      if r.value.kind == process.event.CANCEL then
        subscription:close()
        return true
      end
    elseif r.channel == seen then
      local event = r.value
      counts[event.kind] = (counts[event.kind] or 0) + 1
      logger:info("event", {kind = event.kind, path = event.path})
    else
      local request = r.value:payload():data()
      process.send(request.reply_to, "reply", {counts = counts})
    end
  end
end

return {main = main}
