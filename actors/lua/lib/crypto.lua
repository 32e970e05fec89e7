-- The crypto module: random bytes (the OS's in a process, recorded in a workflow).
local api = ...

local crypto = {}

function crypto.random_bytes(n)
  if math.type(n) ~= "integer" or n < 0 then
    return nil, api.new_error(errors.INVALID, "crypto.random_bytes: n must be a non-negative integer")
  end
  local bytes, err = api.call("random_bytes", n)
  if bytes == nil then error(err, 2) end  -- a count past the limit is a programming error
  return bytes
end

return crypto
