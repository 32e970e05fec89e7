-- The yaml module: Lua tables to YAML text and back (the handlers: actors/lua/lib/encodings.py).
local api = ...

local yaml = {}

function yaml.encode(data, options)
  if type(data) ~= "table" then return nil, api.new_error(errors.INVALID, "yaml.encode: expected a table") end
  if options ~= nil and type(options) ~= "table" then
    return nil, api.new_error(errors.INVALID, "yaml.encode: options must be a table")
  end
  return api.call("encode", data, options)
end

function yaml.decode(text)
  if type(text) ~= "string" then return nil, api.new_error(errors.INVALID, "yaml.decode: expected a string") end
  return api.call("decode", text)
end

return yaml
