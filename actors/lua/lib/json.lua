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

-- validate's two values, as Wippy's `boolean, error`: false whatever failed (a schema
-- that does not compile, text that is not JSON, a value that cannot leave Lua), not nil.
local function verdict(valid, err)
  if valid == nil then return false, err end
  return valid, err
end

-- json.validate(schema, data) → true, or false and the error: INVALID listing what is
-- wrong with the data, INVALID for a schema that is not JSON or does not compile.
-- The schema is a table or JSON text.
function json.validate(schema, data)
  if type(schema) ~= "table" and type(schema) ~= "string" then
    return false, api.new_error(errors.INVALID, "json.validate: the schema is a table or JSON text", false)
  end
  return verdict(api.call("validate", schema, data, false))
end

-- json.validate_string(schema, text): the same for JSON text, without decoding it first
-- (false and INTERNAL when the text is not JSON).
function json.validate_string(schema, text)
  if type(schema) ~= "table" and type(schema) ~= "string" then
    return false, api.new_error(errors.INVALID, "json.validate_string: the schema is a table or JSON text", false)
  end
  if type(text) ~= "string" then
    return false, api.new_error(errors.INVALID, "json.validate_string: expected JSON text", false)
  end
  return verdict(api.call("validate", schema, text, true))
end

return json
