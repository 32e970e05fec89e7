-- Signal the ponger `rounds` times, waiting for each answer.
return function(target, rounds)
  local pongs = process.listen("pong")
  for i = 1, rounds do
    process.send(target, "ping", i)
    pongs:receive()
  end
  process.send(target, "stop")
  return rounds
end
