-- A function that takes its time: it tells its caller and the test's probe it started,
-- then sleeps a minute, or (mode "wait") waits for the probe's "go".
local time = require("time")

local function main(caller, probe, mode)
  process.send(probe, "callee", process.pid())
  process.send(caller, "started", process.pid())
  if mode == "wait" then
    process.listen("go"):receive()
  else
    time.sleep("60s")
  end
  process.send(probe, "finished", process.pid())
  return "finished"
end

return {main = main}
