-- A process other nodes link to and monitor: answers "ping" with "pong", fails on "fail",
-- ends when its node stops (CANCEL).
return function()
  local inbox, events = process.inbox(), process.events()
  while true do
    local r = channel.select({inbox:case_receive(), events:case_receive()})
    if r.channel == events then
      if r.value.kind == process.event.CANCEL then return "stopped" end
    elseif r.value:topic() == "ping" then
      process.send(r.value:from(), "pong", r.value:payload():data())
    elseif r.value:topic() == "fail" then
      error("failed on request", 0)
    end
  end
end
