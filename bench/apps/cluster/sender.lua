-- Sends `count` numbers: every `every`-th to `remote` (when given), the rest to `near`.
return function(near, remote, count, every)
  for i = 1, count do
    if remote ~= nil and i % every == 0 then
      process.send(remote, "n", i)
    else
      process.send(near, "n", i)
    end
  end
end
