-- The terminal CLI: `actorflow exec examples/wippy_todo app:cli`, commands on stdin.
-- Its result, the number of open to-dos, is the exit status.
local io = require("io")
local env = require("env")
local time = require("time")
local registry = require("registry")
local queue = require("queue")
local sql = require("sql")
local format = require("format")

local function wait_for(name: string): boolean
  for _ = 1, 500 do
    if process.registry.lookup(name) then return true end
    time.sleep("10ms")
  end
  return false
end

local function call(name: string, topic: string, request: {[string]: any}): {[string]: any}
  request.reply_to = process.pid()
  process.send(name, topic, request)
  local reply = process.inbox():receive()
  return reply:payload():data()
end

local function show_list(): integer
  local reply = call("todo.store", "list", {})
  local open = 0
  for _, todo in ipairs(reply.todos) do
    io.print(format.todo(todo))
    if not todo.done then open = open + 1 end
  end
  io.print(format.count(open, "open to-do"))
  return open
end

local function drained(): boolean
  for _ = 1, 500 do
    local info = queue.info("app:notifications")
    if info.message_count == 0 and info.in_flight == 0 then return true end
    time.sleep("10ms")
  end
  return false
end

local function stats()
  drained()
  local audit = sql.get("app:db"):query("SELECT action, COUNT(*) AS n FROM audit GROUP BY action ORDER BY action")
  for _, row in ipairs(audit) do io.print("audit", row.action, row.n) end
  local counts = call("todo.auditor", "counts", {}).counts
  io.print("events", counts["todo.added"] or 0, counts["todo.done"] or 0)
end

local function about()
  io.print(env.get("APP_NAME") .. ": " .. env.get("GREETING"))
  local services = registry.find({[".kind"] = "process.service"})
  local ids = {}
  for i, entry in ipairs(services) do ids[i] = entry.id end
  table.sort(ids)
  io.print("services: " .. table.concat(ids, ", "))
end

local function main(): integer
  if not (wait_for("todo.store") and wait_for("todo.auditor")) then
    io.eprint("the services did not start")
    return 2
  end
  env.set("GREETING", "hello")
  local open = 0
  while true do
    local line = io.readline()
    if line == nil or line == "quit" then break end
    local command, rest = string.match(line, "^(%S+)%s*(.*)$")
    if command == "add" then
      local reply = call("todo.store", "add", {title = rest})
      io.print(reply.todo and ("added " .. format.todo(reply.todo)) or ("error: " .. reply.error))
    elseif command == "done" then
      local reply = call("todo.store", "done", {id = math.tointeger(tonumber(rest))})
      io.print(reply.ok and ("done #" .. rest) or ("error: " .. reply.error))
    elseif command == "list" then
      open = show_list()
    elseif command == "stats" then
      stats()
    elseif command == "about" then
      about()
    elseif command ~= nil then
      io.eprint("unknown command: " .. command)
    end
  end
  return open
end

return {main = main}
