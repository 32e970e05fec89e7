-- A process other nodes link to and monitor: answers "ping" with "pong", fails on "fail",
-- ends on a CANCEL with its reason as result.  A "stubborn" one reports a CANCEL to its sender
-- (topic "canceled") and goes on, until it is terminated.
return function(mode)
  local inbox, events = process.inbox(), process.events()
  while true do
    local r = channel.select({inbox:case_receive(), events:case_receive()})
    if r.channel == events then
      local event = r.value
      if event.kind == process.event.CANCEL then
        if mode ~= "stubborn" or event.reason == "scheduler shutdown" then return event.reason end
        process.send(event.from, "canceled", {reason = event.reason, deadline = event.deadline})
      end
    elseif r.value:topic() == "ping" then
      process.send(r.value:from(), "pong", r.value:payload():data())
    elseif r.value:topic() == "fail" then
      error("failed on request", 0)
    end
  end
end
