-- A send to a process that has ended, checked as Wippy code checks it (string.find on
-- the error); from a workflow also a signal to a workflow that does not exist.
local function main(dead_pid, missing_workflow)
  local seen = {}
  local ok, err = process.send(dead_pid, "ping", "hello")
  if ok or err == nil then error(errors.new("a send to an ended process went through")) end
  if not string.find(err, "not found") then error(errors.new("unexpected error: " .. tostring(err))) end
  seen.dead = {kind = err:kind(), retryable = err:retryable(), text = tostring(err)}
  if missing_workflow then
    local sent, signal_err = process.send(missing_workflow, "ping", "hello")
    if sent or signal_err == nil then error(errors.new("a signal to no workflow went through")) end
    seen.signal = {kind = signal_err:kind(), retryable = signal_err:retryable()}
  end
  return seen
end

return {main = main}
