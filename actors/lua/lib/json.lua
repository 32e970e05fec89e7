-- The json module: JSON text to Lua values and back (the handlers: actors/lua/lib/__init__.py).
local api = ...

local json = {}

function json.encode(value) return api.call("encode", value) end

function json.decode(text)
  if type(text) ~= "string" then return nil, api.new_error(errors.INVALID, "json.decode: expected a string") end
  return api.call("decode", text)
end

return json
