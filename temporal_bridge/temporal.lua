-- The `temporal` module: Temporal updates and queries to workflow PIDs, from a process.
--
--   local temporal = require("temporal")
--   local value, err = temporal.update(pid, "increment", {amount = 2})
--   local workflow_id, err = temporal.query(pid, "pid")
--
-- update: the workflow sees a message on topic `name` from `{update|<id>}`; its
-- `ok` reply is the value returned, `nak` and `error` come back as `nil, err`.
local api = ...
local temporal = {}

local function check(what, pid, name)
  if type(pid) ~= "string" then
    error("temporal." .. what .. ": expected a workflow PID (a string), got " .. type(pid), 3)
  end
  if type(name) ~= "string" or name == "" then
    error("temporal." .. what .. ": expected a non-empty " .. what .. " name", 3)
  end
end

function temporal.update(pid, name, ...)
  check("update", pid, name)
  return api.call("update", pid, name, select("#", ...), ...)
end

function temporal.query(pid, name, ...)
  check("query", pid, name)
  return api.call("query", pid, name, select("#", ...), ...)
end

return temporal
