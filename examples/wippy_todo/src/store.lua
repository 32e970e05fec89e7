-- The to-do store: a service that owns the todos table, registered as "todo.store".
-- Requests are messages {reply_to, ...} on the topics add, done and list; every
-- change is published as an event and as a queue notification.
local sql = require("sql")
local events = require("events")
local queue = require("queue")
local logger = require("logger")
local format = require("format")

type Request = {reply_to: string, title: string?, id: integer?}

local log = logger:named("store")

local function add(db, request: Request): {[string]: any}
  if not request.title or request.title == "" then return {error = "a to-do needs a title"} end
  local result, err = db:execute("INSERT INTO todos (title) VALUES (?)", {request.title})
  if err then return {error = tostring(err)} end
  local todo = {id = result.last_insert_id, title = request.title}
  events.send("todo", "todo.added", "/todos/" .. todo.id, todo)
  queue.publish("app:notifications", {action = "added", id = todo.id})
  log:info("added", {todo = format.todo(todo)})
  return {todo = todo}
end

local function done(db, request: Request): {[string]: any}
  local result, err = db:execute("UPDATE todos SET done = 1 WHERE id = ? AND done = 0", {request.id})
  if err then return {error = tostring(err)} end
  if result.rows_affected == 0 then return {error = "no open to-do #" .. tostring(request.id)} end
  events.send("todo", "todo.done", "/todos/" .. request.id, {id = request.id})
  queue.publish("app:notifications", {action = "done", id = request.id})
  return {ok = true}
end

local function list(db): {[string]: any}
  local rows, err = db:query("SELECT id, title, done FROM todos ORDER BY id")
  if err then return {error = tostring(err)} end
  local todos = {}
  for i, row in ipairs(rows) do
    todos[i] = {id = row.id, title = row.title, done = row.done == 1}
  end
  return {todos = todos}
end

local handlers = {add = add, done = done, list = list}

local function main(): boolean
  local db, err = sql.get("app:db")
  if err then error(err) end
  process.registry.register("todo.store")
  log:info("ready")
  local inbox, lifecycle = process.inbox(), process.events()
  while true do
    local r = channel.select({inbox:case_receive(), lifecycle:case_receive()})
    if r.channel == lifecycle then
      if r.value.kind == process.event.CANCEL then return true end
    else
      local msg = r.value
      local request = msg:payload():data() :: Request
      local handler = handlers[msg:topic()]
      local reply = handler and handler(db, request) or {error = "unknown request " .. msg:topic()}
      process.send(request.reply_to, "reply", reply)
    end
  end
end

return {main = main}
