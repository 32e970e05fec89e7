-- The queue module: publish to the app's queues; the delivery inside a consumer's function
-- (the handlers: wippy_compat/queue.py).
local api = ...

local queue = {}

local Message = {}
local MessageMeta = {__index = Message, __metatable = false}

function queue.publish(id, data, headers) return api.call("call", "publish", id, data, headers) end
function queue.info(id) return api.call("call", "info", id) end

function queue.message()
  local delivery, err = api.call("call", "message")
  if delivery == nil then return nil, err end
  return setmetatable({_d = delivery}, MessageMeta)
end

function Message:id() return self._d.id end
function Message:header(key)
  local headers = self._d.headers
  return headers and headers[key]
end
function Message:headers()
  local copy = {}
  for k, v in pairs(self._d.headers or {}) do copy[k] = v end
  return copy
end
function Message:ack() return api.call("call", "ack", self._d.token) end
function Message:nack() return api.call("call", "nack", self._d.token) end

api.methods(Message, MessageMeta, "queue message")

return queue
