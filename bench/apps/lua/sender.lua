-- Sends `count` messages to `target`.
return function(target, count)
  for i = 1, count do process.send(target, "n", i) end
end
