-- Takes a lock, tells the agent of its node, and holds the lock until it is terminated
-- (or its node dies).
local system = require("system")
return function(name)
  local ok, err = system.lock.acquire(name)
  if not ok then error(err) end
  process.send("agent", "locked", name)
  process.inbox():receive()
end
