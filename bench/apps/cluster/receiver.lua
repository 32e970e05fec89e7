-- Receives `count` numbers, then reports their sum to `observer`.
return function(count, observer)
  local numbers = process.listen("n")
  local total = 0
  for _ = 1, count do total = total + numbers:receive() end
  process.send(observer, "done", total)
end
