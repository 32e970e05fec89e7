-- The uuid module: new UUIDs (v1, v4, v7; recorded randomness in a workflow), name-based
-- ones (v3, v5), and checks (the handlers: actors/lua/lib/__init__.py).
local api = ...

local uuid = {}

for _, name in ipairs({"v1", "v4", "v7"}) do
  uuid[name] = function() return api.call("new", name) end
end
function uuid.v3(namespace, name) return api.call("named", 3, namespace, name) end
function uuid.v5(namespace, name) return api.call("named", 5, namespace, name) end
function uuid.validate(value) return api.call("info", "validate", value) end
function uuid.version(value) return api.call("info", "version", value) end
function uuid.variant(value) return api.call("info", "variant", value) end
function uuid.parse(value) return api.call("info", "parse", value) end
function uuid.format(value, style) return api.call("format", value, style or "standard") end

return uuid
