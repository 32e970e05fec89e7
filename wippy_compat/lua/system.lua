-- The system module: runtime, hosts, services, locks (the handlers: wippy_compat/system.py).
local api = ...

local function call(area, what)
  return function(...) return api.call("call", area, what, ...) end
end

local system = {
  modules = call("modules", ""),
  memory = {},
  gc = {},
  runtime = {},
  process = {},
  hosts = {},
  supervisor = {},
  node = {},
  cluster = {},
  raft = {},
  lock = {},
}

for _, what in ipairs({"stats", "allocated", "heap_objects", "set_limit", "get_limit"}) do
  system.memory[what] = call("memory", what)
end
for _, what in ipairs({"collect", "set_percent", "get_percent"}) do system.gc[what] = call("gc", what) end
for _, what in ipairs({"goroutines", "max_procs", "cpu_count"}) do system.runtime[what] = call("runtime", what) end
for _, what in ipairs({"pid", "hostname", "cwd"}) do system.process[what] = call("process", what) end
for _, what in ipairs({"list", "processes"}) do system.hosts[what] = call("hosts", what) end
for _, what in ipairs({"id", "addr", "role"}) do system.node[what] = call("node", what) end
for _, what in ipairs({"members", "leader", "size"}) do system.cluster[what] = call("cluster", what) end
for _, what in ipairs({"is_leader", "is_member", "role", "term", "commit_index", "stats"}) do
  system.raft[what] = call("raft", what)
end
for _, what in ipairs({"acquire", "release"}) do
  system.lock[what] = function(name) return api.call("lock", what, name) end
end

-- The caller, when it is one of the terminal processes system.exit ends, waits for its end
-- instead of running on: nothing after system.exit happens.
function system.exit(code)
  local ok, err, ending_me = api.call("call", "exit", "", code)
  if ending_me then require("time").sleep("24h") end
  return ok, err
end

function system.supervisor.state(id) return api.call("supervisor", "state", id) end
function system.supervisor.states() return api.call("supervisor", "states") end

return system
