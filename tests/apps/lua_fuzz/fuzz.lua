-- Calls the Lua API with the arguments tests/test_fuzz_lua_api.py generates.
--
-- main(batch): batch.calls is a list of calls, each {target, args, self?}:
--   target = {"fn", module, key, key…}   a module function: module[key][key]…
--            {"method", object, name}     a method of one of the objects below
--   args   = a list of value recipes (see build), self a recipe used as the method's
--            self instead of the object (a method called on a value of the wrong kind).
-- Each call runs in a coroutine of its own, so one that waits (time.sleep, a receive…)
-- is left waiting after call.wait (or batch.wait) and the next one runs; a call that blocks
-- the whole Lua state (no coroutine runs) is a hang the test's exec timeout catches.
-- Returns {calls = n, outcomes = {…}}: for each call that failed or returned an error,
-- {index, status = "raised" | "returned" | "waiting", kind?, message}.
local time = require("time")
local json = require("json")
local text = require("text")
local sql = require("sql")
local pg = require("pg")
local events = require("events")
local registry = require("registry")
local security = require("security")
local funcs = require("funcs")
local logger = require("logger")

local MODULE_NAMES = {"funcs", "time", "ctx", "logger", "workflow", "errors", "channel", "process", "os", "json",
  "yaml", "base64", "uuid", "crypto", "hash", "text", "security", "temporal", "http", "io", "env", "events",
  "registry", "sql", "queue", "metrics", "system", "pg"}

local modules = {}
for _, name in ipairs(MODULE_NAMES) do modules[name] = require(name) end

-- Every function reachable from a module table (nested tables too), as {module, key, …} paths.
local function discover()
  local paths = {}
  local function walk(value, path, depth)
    if type(value) == "function" then
      paths[#paths + 1] = path
    elseif type(value) == "table" and depth < 4 and not getmetatable(value) then
      for key, item in pairs(value) do
        if type(key) == "string" then
          local sub = {table.unpack(path)}
          sub[#sub + 1] = key
          walk(item, sub, depth + 1)
        end
      end
    end
  end
  for _, name in ipairs(MODULE_NAMES) do walk(modules[name], {name}, 1) end
  table.sort(paths, function(a, b) return table.concat(a, ".") < table.concat(b, ".") end)
  return paths
end

-- The objects whose methods are fuzzed, made fresh for each batch.
local function make_objects(sibling)
  local o = {}
  o.channel = channel.new(1)
  o.closed_channel = channel.new(0)
  o.closed_channel:close()
  o.time = time.now()
  o.duration = time.parse_duration("1500ms")
  o.location = time.fixed_zone("X", 3600)
  o.timer = time.timer("1h")
  o.ticker = time.ticker("1h")
  o.error = errors.new({kind = errors.NOT_FOUND, message = "fuzz", details = {a = 1}})
  o.spawner = process.with_context({a = 1})
  o.executor = funcs.new()
  o.future = funcs.async("app:double", 1)
  o.logger = logger:named("fuzz")
  process.send(process.pid(), "fuzz.self", {a = 1}, 2)
  o.message = process.inbox():receive()
  o.payload = o.message:payload()[1]
  o.regexp = text.regexp.compile("a(b+)c")
  o.differ = text.diff.new()
  o.splitter = text.splitter.recursive({chunk_size = 10, chunk_overlap = 0})
  o.db = sql.get("app:db")
  for _ = 1, 100 do  -- the transactions an earlier run left open are rolled back as it ends
    o.tx = o.db:begin()
    if o.tx ~= nil then break end
    time.sleep("20ms")
  end
  o.statement = o.db:prepare("SELECT ? AS value")
  o.group = pg.open("app:groups")
  o.pg_subscription = o.group:monitor("fuzz")
  o.events_subscription = events.subscribe("fuzz.*")
  o.snapshot = registry.snapshot()
  o.changes = o.snapshot:changes()
  o.version = registry.current_version()
  o.history = registry.history()
  o.actor = security.new_actor("fuzz", {role = "x"})
  o.scope = security.new_scope({})
  o.thread = coroutine.create(function() coroutine.yield(1) end)
  o.sibling = sibling
  return o
end

local function cleanup(o)
  registry.apply_version(o.version)  -- undo what a fuzzed changeset applied (say, deleting app:echo)
  for name, method in pairs({timer = "stop", ticker = "stop", tx = "rollback", pg_subscription = "close",
                             events_subscription = "close", group = "release"}) do
    local object = o[name]
    if object ~= nil then pcall(object[method], object) end
  end
end

local INF = math.huge

-- A Lua value from a recipe: {"nil"}, {"bool", b}, {"int", i}, {"float", x | "nan" | "inf" |
-- "-inf" | "-0"}, {"str", s}, {"rep", s, n}, {"list", {recipes}}, {"map", {{k, v}…}},
-- {"deep", n}, {"wide", n}, {"cyclic"}, {"fn"}, {"raising_fn"}, {"yielding_fn"},
-- {"hostile_meta"}, {"obj", name}.
local function build(recipe, objects)
  local tag = recipe[1]
  if tag == "nil" then return nil end
  if tag == "bool" or tag == "int" or tag == "str" then return recipe[2] end
  if tag == "float" then
    local x = recipe[2]
    if x == "nan" then return 0 / 0 elseif x == "inf" then return INF elseif x == "-inf" then return -INF
    elseif x == "-0" then return -0.0 end
    return x + 0.0
  end
  if tag == "rep" then return string.rep(recipe[2], recipe[3]) end
  if tag == "list" then
    local t = {}
    for i, item in ipairs(recipe[2]) do t[i] = build(item, objects) end
    return t
  end
  if tag == "map" then
    local t = {}
    for _, pair in ipairs(recipe[2]) do
      local k = build(pair[1], objects)
      if k ~= nil and k == k then t[k] = build(pair[2], objects) end
    end
    return t
  end
  if tag == "deep" then
    local t = {}
    for _ = 1, recipe[2] do t = {t} end
    return t
  end
  if tag == "wide" then
    local t = {}
    for i = 1, recipe[2] do t[i] = i; t["k" .. i] = i end
    return t
  end
  if tag == "cyclic" then
    local t = {name = "loop"}
    t.self = t
    t[1] = t
    return t
  end
  if tag == "fn" then return function(...) return ... end end
  if tag == "raising_fn" then return function() error("raised by a fuzz argument") end end
  if tag == "yielding_fn" then return function() coroutine.yield(1) end end
  if tag == "hostile_meta" then
    return setmetatable({}, {
      __index = function() error("__index of a fuzz argument") end,
      __newindex = function() error("__newindex of a fuzz argument") end,
      __tostring = function() error("__tostring of a fuzz argument") end,
      __len = function() return "not a length" end,
      __pairs = function() error("__pairs of a fuzz argument") end,
      __eq = function() error("__eq of a fuzz argument") end,
      __call = function() error("__call of a fuzz argument") end,
      __concat = function() error("__concat of a fuzz argument") end,
    })
  end
  if tag == "obj" then return objects[recipe[2]] end
  error("unknown recipe " .. tostring(tag))
end

-- The text of an error value without calling anything the value could make fail.
local function describe(value)
  if errors.is(value, errors.INVALID) or (type(value) == "userdata" and getmetatable(value) == "error") then
    return value:kind(), tostring(value:message())
  end
  if type(value) == "string" then return nil, value end
  local ok, shown = pcall(tostring, value)
  return nil, ok and shown or ("<" .. type(value) .. ">")
end

local function target_of(call, objects)
  local target = call.target
  if target[1] == "fn" then
    local value = modules[target[2]]
    for i = 3, #target do value = value[target[i]] end
    return value, nil, false
  end
  local object = objects[target[2]]
  local method = object[target[3]]
  if call.self ~= nil then return method, build(call.self, objects), true end
  return method, object, true
end

local function run(index, call, objects, wait_for)
  local fn, self_value, is_method = target_of(call, objects)
  local args, n = {}, #call.args
  for i, recipe in ipairs(call.args) do args[i] = build(recipe, objects) end
  local done = channel.new(1)
  coroutine.spawn(function()
    local result
    if is_method then
      result = table.pack(pcall(fn, self_value, table.unpack(args, 1, n)))
    else
      result = table.pack(pcall(fn, table.unpack(args, 1, n)))
    end
    done:send(result)
  end)
  local deadline = time.after(call.wait or wait_for)  -- a duration text: "200ms"
  local got = channel.select({done:case_receive(), deadline:case_receive()})
  if got.channel ~= done then
    return {index = index, status = "waiting", message = ""}
  end
  local result = got.value
  if not result[1] then
    local kind, message = describe(result[2])
    return {index = index, status = "raised", kind = kind, message = message}
  end
  local second = result[3]
  if second ~= nil and (type(second) == "string" or getmetatable(second) == "error") then
    local kind, message = describe(second)
    return {index = index, status = "returned", kind = kind, message = message}
  end
  return nil
end

local function main(batch)
  if batch == "discover" then return discover() end
  if batch == nil then return "upgraded to itself" end  -- process.upgrade(nil) or ("")
  if batch.upgrade ~= nil then  -- process.upgrade ends this program whatever happens: one per run
    local objects = make_objects(nil)
    local args = {}
    for i, recipe in ipairs(batch.upgrade) do args[i] = build(recipe, objects) end
    return process.upgrade(table.unpack(args, 1, #batch.upgrade))
  end

  process.set_options({trap_links = true})
  local sibling = process.spawn("app:idle", "app:processes")
  local objects = make_objects(sibling)
  local outcomes = {}
  for index, call in ipairs(batch.calls) do
    local outcome = run(index, call, objects, batch.wait)
    if outcome ~= nil then outcomes[#outcomes + 1] = outcome end
  end
  cleanup(objects)
  process.terminate(sibling)
  return {calls = #batch.calls, outcomes = outcomes, alive = process.exec("app:echo", "app:processes", "ok")[1]}
end

return {main = main}
