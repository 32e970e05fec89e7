-- The env module: the variables the app declares (the handlers: wippy_compat/env.py).
local api = ...

local env = {}

function env.get(key) return api.call("env", "get", key) end
function env.set(key, value) return api.call("env", "set", key, value) end
function env.get_all() return api.call("env", "get_all") end

return env
