-- Answer every ping with a pong to its sender.
return function()
  local pings = process.listen("ping", {message = true})
  local stop = process.listen("stop")
  while true do
    local r = channel.select{pings:case_receive(), stop:case_receive()}
    if r.channel == stop then return "stopped" end
    process.send(r.value:from(), "pong", r.value:payload():data())
  end
end
