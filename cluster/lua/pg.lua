-- The pg module: process groups in the scopes of pg.scope entries (the handlers: cluster/pg.py).
-- pg.open(id) gives an instance; every other call is a method of it (group:join(...)).
-- Monitors and scope events arrive as messages on a topic of their own, which the
-- subscription's channel listens to.
local api = ...

local pg = {}

local function released()
  return api.new_error("INVALID", "pg instance is released", false)
end

local Subscription = {}
Subscription.__index = Subscription
Subscription.__metatable = "pg.Subscription"

local function subscription(ch, stop)
  return setmetatable({_ch = ch, _stop = stop, _closed = false}, Subscription)
end

function Subscription:channel()
  return self._ch
end

-- close([{flush = true}]): stop the subscription; its channel ends.  What already
-- arrived stays readable until the process reads past it (flush is accepted for Wippy's
-- code: nothing is dropped either way).
function Subscription:close(options)
  if self._closed then return true end
  self._closed = true
  self._stop()
  process.unlisten(self._ch)
  return true
end

local Instance = {}
Instance.__index = Instance
Instance.__metatable = "pg.Instance"
Instance.__tostring = function(self)
  if self._released then return "pg.Instance{" .. self._id .. ", released}" end
  return "pg.Instance{" .. self._id .. "}"
end

function pg.open(id)
  local scope, err = api.call("open", id)
  if err then return nil, err end
  return setmetatable({_id = scope, _released = false}, Instance)
end

-- Methods answering (value, err), refused once the instance is released.
local function method(operation)
  return function(self, ...)
    if self._released then return nil, released() end
    return api.call(operation, self._id, ...)
  end
end

Instance.join = method("join")
Instance.leave = method("leave")
Instance.get_members = method("members")
Instance.get_local_members = method("local_members")
Instance.which_groups = method("which_groups")
Instance.which_local_groups = method("which_local_groups")
Instance.broadcast = method("broadcast")
Instance.broadcast_local = method("broadcast_local")

-- monitor(group) -> subscription, members, err: the members now and every join and
-- leave after, with nothing falling between (the channel listens before the snapshot).
function Instance:monitor(group)
  if self._released then return nil, nil, released() end
  if type(group) ~= "string" or group == "" then
    return nil, nil, api.new_error("INVALID", "group name is required", false)
  end
  local topic = api.call("topic", "monitor")
  local ch = process.listen(topic)
  local members, err = api.call("monitor", self._id, group, topic)
  if err then
    process.unlisten(ch)
    return nil, nil, err
  end
  local scope = self._id
  return subscription(ch, function() api.call("demonitor", scope, group, topic) end), members
end

-- events() -> subscription, snapshot, err: every change of every group of the scope;
-- the snapshot maps each group to its members.
function Instance:events()
  if self._released then return nil, nil, released() end
  local topic = api.call("topic", "events")
  local ch = process.listen(topic)
  local snapshot, err = api.call("events", self._id, topic)
  if err then
    process.unlisten(ch)
    return nil, nil, err
  end
  local scope = self._id
  return subscription(ch, function() api.call("demonitor_scope", scope, topic) end), snapshot
end

function Instance:release()
  self._released = true
  return true
end

api.methods(Subscription, Subscription, "pg subscription")
api.methods(Instance, Instance, "pg instance")

return pg
