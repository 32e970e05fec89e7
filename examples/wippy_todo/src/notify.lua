-- Called by the queue consumer for each notification: an audit row and a metric.
local sql = require("sql")
local queue = require("queue")
local logger = require("logger")
local metrics = require("metrics")

type Notification = {action: string, id: integer}

local function main(note: Notification): (boolean?, any)
  local msg, err = queue.message()
  if err then return nil, err end
  local db = sql.get("app:db")
  local _, insert_err = db:execute("INSERT INTO audit (action, todo_id) VALUES (?, ?)", {note.action, note.id})
  if insert_err then return nil, insert_err end
  metrics.counter_inc("todo_notifications_total", {action = note.action})
  logger:info("notified", {action = note.action, id = note.id, message = msg:id()})
  return true
end

return {main = main}
