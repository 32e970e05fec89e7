-- The base64 module: RFC 4648 standard Base64 (the handlers: actors/lua/lib/encodings.py).
local api = ...

local base64 = {}

function base64.encode(data)
  if type(data) ~= "string" then return nil, api.new_error(errors.INVALID, "base64.encode: expected a string") end
  if data == "" then return "" end
  return api.call("encode", data)
end

function base64.decode(data)
  if type(data) ~= "string" then return nil, api.new_error(errors.INVALID, "base64.decode: expected a string") end
  if data == "" then return "" end
  return api.call("decode", data)
end

return base64
