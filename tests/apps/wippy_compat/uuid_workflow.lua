-- uuid.v1() in a workflow: a version 1 UUID made from recorded time and randomness, so a
-- replay makes the same one (it is the activity ID, which a replay compares).
local funcs = require("funcs")
local uuid = require("uuid")

local function main()
  local id = uuid.v1()
  local echoed = funcs.new():with_options({["activity.id"] = id}):call("app:double", 4)
  return {id = id, version = uuid.parse(id).version, second = uuid.v1(), echoed = echoed}
end

return {main = main}
