-- Spawns `count` quick processes and waits until each has said it is up.
return function(count)
  local ups = process.listen("up")
  local me = process.pid()
  for _ = 1, count do process.spawn("bench:quick", "bench:processes", me) end
  for _ = 1, count do ups:receive() end
  return count
end
