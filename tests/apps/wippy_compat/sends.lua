-- A send to a process that has ended, checked as Wippy code checks it (string.find on
-- the error); from a workflow also a signal to a workflow that does not exist.
local expect = require("test").expect

local function main(dead_pid, missing_workflow)
  local seen = {}
  local ok, err = process.send(dead_pid, "ping", "hello")
  expect(ok, "a send to an ended process").to_be_falsy()
  expect(err, "its error").not_to_be_nil()
  expect(string.find(err, "not found"), "string.find(err, \"not found\")").to_be_truthy()
  seen.dead = {kind = err:kind(), retryable = err:retryable(), text = tostring(err)}
  if missing_workflow then
    local sent, signal_err = process.send(missing_workflow, "ping", "hello")
    expect(sent, "a signal to no workflow").to_be_falsy()
    expect(signal_err, "its error").not_to_be_nil()
    seen.signal = {kind = signal_err:kind(), retryable = signal_err:retryable()}
  end
  return seen
end

return {main = main}
