-- The security module's read-only calls, as Wippy code makes them.
local security = require("security")

local function main()
  local actor = security.actor()
  local scope = security.scope()
  local allowed = security.can("read", "order:7")
  local made = security.new_actor("user:1", {role = "admin"})
  local _, no_policy = security.policy("app:admin")
  return {actor = actor == nil, scope = scope == nil, allowed = allowed, id = made:id(),
          role = made:meta().role, policy = no_policy:kind(), contains = security.new_scope({"a"}):contains("a")}
end

return {main = main}
