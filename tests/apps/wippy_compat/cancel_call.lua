-- future:cancel() stops the called function: the caller waits until the callee has
-- started (it says so on topic "started"), cancels, and reports what the future says.
local funcs = require("funcs")

local function main(probe)
  local started = process.listen("started")
  local future = funcs.async("app:slow", process.pid(), probe)
  local callee = started:receive()
  local canceled = future:cancel()
  local result, err = future:result()
  return {callee = callee, canceled = canceled, is_canceled = future:is_canceled(),
          result_is_nil = result == nil, kind = err and err:kind()}
end

return {main = main}
