-- The json module: JSON text to Lua values and back, and JSON Schema validation
-- (the handlers: actors/lua/lib/__init__.py).
local api = ...

local json = {}

function json.encode(value) return api.call("encode", value) end

function json.decode(text)
  if type(text) ~= "string" then
    return nil, api.new_error(errors.INVALID, "json.decode: expected a string", false)
  end
  return api.call("decode", text)
end

-- json.validate(schema, data) → true, or false and an INVALID error listing what is wrong;
-- the schema is a table or JSON text.
function json.validate(schema, data)
  if type(schema) ~= "table" and type(schema) ~= "string" then
    return false, api.new_error(errors.INVALID, "json.validate: the schema is a table or JSON text", false)
  end
  return api.call("validate", schema, data, false)
end

-- json.validate_string(schema, text): the same for JSON text, without decoding it first.
function json.validate_string(schema, text)
  if type(schema) ~= "table" and type(schema) ~= "string" then
    return false, api.new_error(errors.INVALID, "json.validate_string: the schema is a table or JSON text", false)
  end
  if type(text) ~= "string" then
    return false, api.new_error(errors.INVALID, "json.validate_string: expected JSON text", false)
  end
  return api.call("validate", schema, text, true)
end

return json
