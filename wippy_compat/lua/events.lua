-- The events module: the app's event bus (the handlers: wippy_compat/events.py).
-- A subscription is a topic of the subscribing process: its channel is process.listen's.
local api = ...

local events = {}

local Subscription = {}
local SubscriptionMeta = {__index = Subscription, __metatable = false}

function events.subscribe(system, kind)
  local id, topic = api.call("subscribe", system, kind)
  if id == nil then return nil, topic end
  local ch = process.listen(topic)
  return setmetatable({_id = id, _ch = ch}, SubscriptionMeta)
end

function Subscription:channel() return self._ch end

function Subscription:close()
  if not self._closed then
    rawset(self, "_closed", true)
    api.call("close", self._id)
    process.unlisten(self._ch)
  end
  return true
end

function events.send(system, kind, path, data) return api.call("send", system, kind, path, data) end

api.methods(Subscription, SubscriptionMeta, "subscription")

return events
