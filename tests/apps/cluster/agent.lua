-- The test's hands on one node: a request on topic "do" ({op = ..., ...}) is performed and
-- answered to its sender on "done" ({value, error}); every other message and every event is
-- recorded, with the wall-clock time it arrived, and returned by {op = "records"}.
local pg = require("pg")
local system = require("system")
local time = require("time")

local function error_table(err)
  if err == nil then return nil end
  return {kind = err:kind(), message = err:message()}
end

return function()
  process.set_options({trap_links = true})
  process.registry.register("agent")
  local scope = pg.open("app:pg")
  local inbox, events = process.inbox(), process.events()
  local records = {}

  local ops = {}
  function ops.spawn(a) return process.spawn("app:" .. a.entry, a.host or "app:processes", a.arg) end
  function ops.send(a) return process.send(a.dest, a.topic, a.payload) end
  function ops.link(a) return process.link(a.dest) end
  function ops.unlink(a) return process.unlink(a.dest) end
  function ops.monitor(a) return process.monitor(a.dest) end
  function ops.unmonitor(a) return process.unmonitor(a.dest) end
  function ops.terminate(a) return process.terminate(a.dest) end
  function ops.cancel(a) return process.cancel(a.dest, a.arg) end
  function ops.exec(a) return process.exec("app:" .. a.entry, a.host, a.arg) end
  function ops.register(a) return process.registry.register(a.name, a.pid, process.registry[a.scope]) end
  function ops.unregister(a) return process.registry.unregister(a.name, process.registry[a.scope]) end
  function ops.lookup(a) return process.registry.lookup(a.name) end
  function ops.join(a) return scope:join(a.group) end
  function ops.members(a) return scope:get_members(a.group) end
  function ops.broadcast(a) return scope:broadcast(a.group, a.topic, a.payload) end
  function ops.lock(a) return system.lock.acquire(a.name) end
  function ops.unlock(a) return system.lock.release(a.name) end
  function ops.records() return records end
  function ops.node()
    local ids = {}
    for _, member in ipairs(system.cluster.members()) do ids[#ids + 1] = member.id end
    return {id = system.node.id(), members = ids, pid = process.pid(), addr = system.node.addr()}
  end

  while true do
    local r = channel.select({inbox:case_receive(), events:case_receive()})
    local now = time.now():unix_nano() / 1e9
    if r.channel == inbox then
      local msg = r.value
      if msg:topic() == "do" then
        local request = msg:payload():data()
        local value, err = ops[request.op](request)
        process.send(msg:from(), "done", {value = value, error = error_table(err)})
      else
        records[#records + 1] = {type = "msg", topic = msg:topic(), from = msg:from(),
                                 payload = msg:payload():data(), at = now}
      end
    else
      local event = r.value
      if event.kind == process.event.CANCEL then return "stopped" end
      local result = event.result or {}
      records[#records + 1] = {type = event.kind, from = event.from, value = result.value,
                               error = error_table(result.error), at = now}
    end
  end
end
