-- The security module, as far as actorflow has one. actorflow has no security model:
-- no policies, no actors or scopes in a program's context, every operation allowed
-- (docs/coming-from-wippy.md). The read-only calls answer accordingly, so Wippy code that
-- asks runs: security.actor() and security.scope() are nil, security.can(...) is true.
-- Actors and scopes can be built and inspected; what needs a policy registry or a token
-- store (policy, named_scope, token_store) returns nil and an error saying it is not there.
local api = ...

local security = {}

-- Methods live in tables of their own, out of user code's reach: the module is shared by
-- every process of the Lua state (a metatable whose __index is itself would hand it out).
local ActorMethods, ScopeMethods = {}, {}
local Actor = {__index = ActorMethods, __metatable = "security.actor"}
local Scope = {__index = ScopeMethods, __metatable = "security.scope"}
function ActorMethods:id() return self._id end
function ActorMethods:meta()
  local copy = {}
  for k, v in pairs(self._meta) do copy[k] = v end
  return copy
end

local function new_scope(policies) return setmetatable({_policies = policies}, Scope) end
function ScopeMethods:policies()
  local list = {}
  for i, policy in ipairs(self._policies) do list[i] = policy end
  return list
end
function ScopeMethods:contains(id)
  for _, policy in ipairs(self._policies) do
    if policy == id or (type(policy) == "table" and policy.id and policy:id() == id) then return true end
  end
  return false
end
function ScopeMethods:with(policy)
  local list = self:policies()
  list[#list + 1] = policy
  return new_scope(list)
end
function ScopeMethods:without(id)
  local list = {}
  for _, policy in ipairs(self._policies) do
    if not (policy == id or (type(policy) == "table" and policy.id and policy:id() == id)) then
      list[#list + 1] = policy
    end
  end
  return new_scope(list)
end
-- No policy decides anything on actorflow.
function ScopeMethods:evaluate(actor, action, resource, meta) return "undefined" end

function security.actor() return nil end
function security.scope() return nil end

function security.can(action, resource, meta)
  if type(action) ~= "string" or type(resource) ~= "string" then
    error("security.can: expected an action and a resource (strings)", 2)
  end
  return true
end

function security.new_actor(id, meta)
  if type(id) ~= "string" or id == "" then error("security.new_actor: expected an actor ID", 2) end
  if meta ~= nil and type(meta) ~= "table" then error("security.new_actor: meta must be a table", 2) end
  local copy = {}
  for k, v in pairs(meta or {}) do copy[k] = v end
  return setmetatable({_id = id, _meta = copy}, Actor)
end

function security.new_scope(policies)
  if policies ~= nil and type(policies) ~= "table" then error("security.new_scope: expected a list of policies", 2) end
  local list = {}
  for i, policy in ipairs(policies or {}) do list[i] = policy end
  return new_scope(list)
end

local function not_here(what)
  return function(id)
    return nil, api.new_error(errors.NOT_FOUND, "security." .. what .. "(" .. tostring(id)
      .. "): actorflow has no security policies or token stores", false)
  end
end
security.policy = not_here("policy")
security.named_scope = not_here("named_scope")
security.token_store = not_here("token_store")

api.methods(ActorMethods, Actor, "security.actor")
api.methods(ScopeMethods, Scope, "security.scope")

return security
