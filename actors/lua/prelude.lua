-- The actorflow Lua prelude: the sandbox and the Lua API, shared by every driver.
--
-- It runs once per Lua state, before any user code, with two arguments:
--   host   a Python callable: host(name, ...) performs an operation directly
--   config a table: the markers (OP, RAISE, DONE, FAIL, GO, PAUSE, BLOCK),
--          deterministic (a workflow's state), time_layouts, host_now
-- and returns the table Python uses (LuaState: markers, constructors, the
-- entry loader).
--
-- Every operation on the outside world goes through op(name, ...).  Inside a
-- coroutine it *yields* (OP, name, ...) to the driver, which performs it (for
-- real in a process, through Temporal in a workflow) and resumes the coroutine
-- with the results; outside a coroutine it calls host() directly.  A result
-- starting with RAISE is turned into a Lua error at the caller.  A process
-- first tries host_now(), which does what needs no waiting at once and
-- answers BLOCK for the rest: a yield costs more than the operation.
--
-- User code never sees host(), the markers or the real globals: it runs in an
-- environment built by new_env(), and debug, io, os (except time), load of
-- binary chunks, string.dump and the python module are gone.

local host, config = ...

local OP, RAISE, DONE, FAIL = config.OP, config.RAISE, config.DONE, config.FAIL

local raw_yield = coroutine.yield
local raw_resume = coroutine.resume
local raw_create = coroutine.create
local raw_status = coroutine.status
local raw_running = coroutine.running
local raw_isyieldable = coroutine.isyieldable
local sethook = debug.sethook
local raw_getmetatable = debug.getmetatable
local debug_getlocal, debug_getupvalue = debug.getlocal, debug.getupvalue  -- the memory walk (end)
local pack, unpack = table.pack, table.unpack
local type, error, tostring, setmetatable, getmetatable, rawget, rawset, select, pairs, ipairs, next =
    type, error, tostring, setmetatable, getmetatable, rawget, rawset, select, pairs, ipairs, next
local string_format, string_sub, string_find = string.format, string.sub, string.find
local string_gsub, string_match = string.gsub, string.match
local math_type, math_floor = math.type, math.floor
local getinfo = debug.getinfo
local PRELUDE_SOURCE = getinfo(1, "S").source

-- Raises message at the user's code: the position error() prepends is that of the
-- innermost frame that is neither the prelude's nor a C function's.  A fixed level
-- misses it when the user's call reached the prelude through a tail call
-- (`return require("x")`: the caller's frame is gone) or through the prelude's own
-- functions (its pcall), and names the prelude's code instead.
local function user_error(message)
  local level = 2
  while true do
    local info = getinfo(level, "S")
    if info == nil then error(message, 0) end  -- no user code on the stack: no position
    if info.what ~= "C" and info.source ~= PRELUDE_SOURCE then error(message, level) end
    level = level + 1
  end
end

local function raise_if(first, ...)
  if first == RAISE then
    error((...), 3)
  end
  return first, ...
end

-- host_now(name, ...) (process states only) performs an operation from inside a
-- coroutine without yielding, when it can: its first value says how it went.
local host_now = config.host_now
local GO, PAUSE, BLOCK = config.GO, config.PAUSE, config.BLOCK

local function settle(status, ...)
  if status == GO then return ... end
  if status == PAUSE then  -- the slice's budget is spent: let the host's other processes run
    raw_yield(OP, "pause")
    return ...
  end
  if status == BLOCK then  -- it has to wait: yield it to the driver after all
    return raise_if(raw_yield(OP, ...))
  end
  error((...), 3)  -- RAISE, at the same level as raise_if's
end

local function op(name, ...)
  if raw_isyieldable() then
    if host_now ~= nil then return settle(host_now(name, ...)) end
    return raise_if(raw_yield(OP, name, ...))
  end
  return raise_if(host(name, ...))
end

-- The watchdog: a Lua loop that never waits cannot be preempted, but every
-- WATCH_EVERY instructions it asks the driver whether the program must end
-- (a process terminated by terminate, a cancel deadline or host shutdown; a
-- workflow past its run budget) and, if so, ends it with KILLED, which
-- pcall, xpcall and coroutine.resume pass on instead of catching.
-- KILLED is a function: a value no process can change (processes share
-- states) and nobody can forge.
local KILLED = function() return "process terminated" end
local WATCH_EVERY = 1000000
local watching = true
local function watchdog()
  if host("watchdog") == true then error(KILLED, 0) end
end
local function watch(co)
  if watching then sethook(co, watchdog, "", WATCH_EVERY) end
  return co
end
-- The top level of an entry's file runs on the state's main thread (instantiate):
-- in a process state that thread keeps this hook for good, live only while a
-- file's top level runs (limits, issue 12 defect 9: `while true do end` there
-- held the lane thread for good; a sethook per spawn would cost a percent of it).
local top_level = false
local function top_level_watchdog()
  if top_level and host("watchdog") == true then error(KILLED, 0) end
end

-- ---------------------------------------------------------------------------
-- errors: structured error objects (kind, message, retryable, details)
-- ---------------------------------------------------------------------------

local Error = {}
Error.__index = Error
Error.__metatable = "error"

-- Kinds are the constants' own names (errors.NOT_FOUND == "NOT_FOUND", as the seeds print
-- them); Wippy's runtime spells them "NotFound", and older Wippy code "not_found": every
-- spelling of a known kind is that kind, so code written either way compares equal.
local KIND_NAMES = {"INVALID", "NOT_FOUND", "ALREADY_EXISTS", "PERMISSION_DENIED", "UNAVAILABLE",
                    "INTERNAL", "CANCELED", "CONFLICT", "TIMEOUT", "RATE_LIMITED", "UNKNOWN"}
local CANONICAL_KIND = {}
for _, names in ipairs({KIND_NAMES, {"INVALID_STATE", "LIMIT_EXCEEDED", "EXITED", "TERMINATED"}}) do
  for _, name in ipairs(names) do
    local lower = string.lower(name)
    CANONICAL_KIND[name], CANONICAL_KIND[lower] = name, name
    CANONICAL_KIND[(string_gsub(string_gsub(lower, "^%l", string.upper), "_(%l)", string.upper))] = name
  end
end
CANONICAL_KIND.Cancelled, CANONICAL_KIND.CANCELLED = "CANCELED", "CANCELED"
local function canonical_kind(kind)
  if kind == nil then return "" end
  return CANONICAL_KIND[kind] or kind
end

-- Where an error was made: the Lua frames above the caller (the prelude's own left out),
-- as errors.call_stack gives them. Filled in when the thread's name can be made (below).
local getinfo = debug.getinfo
local PRELUDE_SOURCE = getinfo(1, "S").source
local MAX_FRAMES = 32
local thread_name = function() return "main" end

local function capture_stack(level)
  local frames, n = {}, 0
  level = level + 1
  while n < MAX_FRAMES do
    local info = getinfo(level, "Sln")
    if info == nil then break end
    if info.what ~= "C" and info.source ~= PRELUDE_SOURCE then
      n = n + 1
      frames[n] = {level = n, source = info.short_src, line = info.currentline,
                   name = info.name or (info.what == "main" and "main chunk" or "?"), type = info.what}
    end
    level = level + 1
  end
  return {thread = thread_name(), frames = frames}
end

-- An error object: kind, message, retryable (true/false/nil), details (a table or nil), the
-- context errors.wrap added (shown by tostring, never in message() or details()), and the
-- stack where it was made (errors made by Lua code; nil for those an operation returns).
local function new_error(kind, message, retryable, details, stack, context)
  if details ~= nil and next(details) == nil then details = nil end
  return setmetatable({_kind = kind or "", _message = message or "", _retryable = retryable,
                       _details = details, _stack = stack, _context = context}, Error)
end

local function is_error(value)
  return getmetatable(value) == "error" and rawget(value, "_message") ~= nil
end

-- err:kind() reads the kind; err:kind(k), as Wippy code writes it
-- (errors.new("denied"):kind(errors.PERMISSION_DENIED)), is a copy of kind k.
function Error:kind(kind)
  if kind == nil then return self._kind end
  return new_error(canonical_kind(kind), self._message, self._retryable, self._details, self._stack, self._context)
end
function Error:message() return self._message end
function Error:retryable() return self._retryable end
function Error:details() return self._details end
function Error:stack()
  local stack = self._stack
  if stack == nil then return nil end
  local lines = {"stack traceback:"}
  for i, frame in ipairs(stack.frames) do
    lines[i + 1] = "\t" .. frame.source .. ":" .. frame.line .. ": in " .. frame.name
  end
  return table.concat(lines, "\n")
end
Error.__tostring = function(self)
  local context = self._context
  if context ~= nil and context ~= "" then return context .. ": " .. tostring(self._message) end
  return tostring(self._message)
end
Error.__concat = function(a, b) return tostring(a) .. tostring(b) end
Error.__eq = function(a, b)
  return a._kind == b._kind and a._message == b._message
end

-- The text of an error object where Lua code uses it as a string (string.find(err, …)).
local function error_text(value)
  if is_error(value) then return Error.__tostring(value) end
  return value
end

local errors = {}
for _, name in ipairs(KIND_NAMES) do errors[name] = name end

-- An argument that is not valid: never retryable (the same call fails the same way).
local function invalid(message) return new_error(errors.INVALID, message, false) end

function errors.new(spec)
  if type(spec) == "table" and not is_error(spec) then
    if spec.message ~= nil and type(spec.message) ~= "string" then
      error("errors.new: message must be a string", 2)
    end
    local details = spec.details
    if details ~= nil and type(details) ~= "table" then details = {value = details} end
    return new_error(canonical_kind(spec.kind), spec.message or "", spec.retryable, details, capture_stack(2))
  end
  if type(spec) ~= "string" then
    error("errors.new: expected a message string or a table", 2)
  end
  return new_error("", spec, nil, nil, capture_stack(2))
end

-- errors.wrap(err, context): the same kind, message, retryability and details, with the
-- context in front when shown; the stack stays the one where err was made.
function errors.wrap(err, context)
  if err == nil then return nil end
  if not is_error(err) then err = new_error("", tostring(err), nil, nil, capture_stack(2)) end
  local text = tostring(context)
  local inner = err._context
  return new_error(err._kind, err._message, err._retryable, err._details,
                   err._stack or capture_stack(2), inner and (text .. ": " .. inner) or text)
end

function errors.is(err, kind)
  return is_error(err) and err._kind == canonical_kind(kind)
end

-- {thread = …, frames = {{level, source, line, name, type}, …}} where the error was made.
function errors.call_stack(err)
  if is_error(err) then return err._stack end
  return nil
end

-- ---------------------------------------------------------------------------
-- coroutines: user coroutines pass driver operations through
-- ---------------------------------------------------------------------------

-- Resume co; when it yields a driver operation, perform it (yielding further
-- up when we are ourselves inside a coroutine) and resume it with the result.
local function pass_through(co, ...)
  local results = pack(raw_resume(co, ...))
  while results[1] and results[2] == OP and raw_status(co) == "suspended" do
    results = pack(raw_resume(co, op(unpack(results, 3, results.n))))
  end
  return unpack(results, 1, results.n)
end

-- User code may resume only the coroutines it created: the runtime's own
-- (a process's main coroutine, coroutine.spawn tasks) are driven by the
-- driver, and resuming one by hand would break its protocol.
local user_made = setmetatable({}, {__mode = "k"})

local user_coroutine = {}
for k, v in pairs(coroutine) do user_coroutine[k] = v end
user_coroutine.create = function(fn)
  local co = watch(raw_create(fn))
  user_made[co] = true
  return co
end
local function rethrow_killed(ok, first, ...)
  if not ok and first == KILLED then error(KILLED, 0) end
  return ok, first, ...
end
user_coroutine.resume = function(co, ...)
  if type(co) == "thread" and not user_made[co] then
    return false, "cannot resume a coroutine the runtime runs (a process or coroutine.spawn task)"
  end
  return rethrow_killed(pass_through(co, ...))
end
user_coroutine.close = function(co)
  if type(co) == "thread" and not user_made[co] then
    return false, "cannot close a coroutine the runtime runs (a process or coroutine.spawn task)"
  end
  return coroutine.close(co)
end
user_coroutine.wrap = function(fn)
  local co = watch(raw_create(fn))
  return function(...)
    local results = pack(pass_through(co, ...))
    if not results[1] then error(results[2], 0) end
    return unpack(results, 2, results.n)
  end
end

-- The body every task (main or spawned) runs in: DONE/FAIL tell the driver how it ended.
local function error_handler(err)
  if err == KILLED then return new_error(errors.INTERNAL, "process terminated", false, nil, nil) end
  if is_error(err) then
    if err._stack == nil then rawset(err, "_stack", capture_stack(2)) end
    return err
  end
  if type(err) == "table" and type(err.message) == "string" then
    local details = err.details
    if details ~= nil and type(details) ~= "table" then details = {value = details} end
    local kind = err.kind
    return new_error(type(kind) == "string" and canonical_kind(kind) or errors.INTERNAL, err.message,
                     err.retryable, details, capture_stack(2))
  end
  return new_error(errors.INTERNAL, tostring(err), nil, nil, capture_stack(2))
end

local function task_end(ok, ...)
  if ok then return DONE, ... end
  return FAIL, (...)
end

local function task_body(fn, ...)
  if watching then sethook(watchdog, "", WATCH_EVERY) end  -- this task's own coroutine
  return task_end(xpcall(fn, error_handler, ...))
end

-- A coroutine.spawn task is made here and started up to a park: the driver
-- gets a running coroutine to resume (lupa cannot make one while Lua calls it,
-- and hands over a coroutine that has not started as a plain function).
local function parked_body(fn)
  raw_yield()
  return task_body(fn)
end
user_coroutine.spawn = function(fn)
  if type(fn) ~= "function" then error("coroutine.spawn: expected a function", 2) end
  local co = raw_create(parked_body)
  raw_resume(co, fn)
  return op("spawn_task", co)
end

-- ---------------------------------------------------------------------------
-- channels
-- ---------------------------------------------------------------------------

local Channel = {}
Channel.__index = Channel
Channel.__metatable = "channel"

-- A channel reaches Lua as a handle, an integer its program's driver maps to
-- the channel: never as a Python object (lupa 2.8 with Lua 5.5 can hand Lua
-- another Python object than the one pushed, lupa issue 294), and a handle
-- means nothing in another process's program.  The driver makes every wrapper
-- (wrap_channel) and lists it in its program's weak table `live` (handle ->
-- wrapper), so it forgets the handles of wrappers Lua collected (live_handles).
local function wrap_channel(handle, live)
  local wrapper = setmetatable({_h = handle}, Channel)
  live[handle] = wrapper
  return wrapper
end

local function new_live()
  return setmetatable({}, {__mode = "v"})
end

local function live_handles(live)
  local handles, n = {}, 0
  for handle in next, live do
    n = n + 1
    handles[n] = handle
  end
  return handles
end

local function channel_handle(value, what)
  if getmetatable(value) ~= "channel" then
    error((what or "expected a channel") .. ", got " .. type(value), 3)
  end
  return rawget(value, "_h")
end

function Channel:send(value) return op("chan_send", channel_handle(self), value) end
function Channel:receive() return op("chan_recv", channel_handle(self)) end
function Channel:close() op("chan_close", channel_handle(self)) end
function Channel:case_receive() return {_case = "recv", _ch = self} end
function Channel:case_send(value) return {_case = "send", _ch = self, _value = value} end
Channel.__tostring = function(self) return "channel" end

local channel = {}

function channel.new(size)
  if size ~= nil and (math_type(size) ~= "integer" or size < 0) then
    error("channel.new: size must be a non-negative integer", 2)
  end
  return op("chan_new", size or 0)
end

function channel.select(cases, default)
  if type(cases) ~= "table" then error("channel.select: expected a table of cases", 2) end
  local has_default = default == true or cases.default == true
  local list = {}
  for _, case in ipairs(cases) do
    if type(case) == "table" and case._case then list[#list + 1] = case end
  end
  local handles, sends, values = {}, {}, {}
  for i, case in ipairs(list) do
    handles[i] = channel_handle(case._ch, "channel.select: a case needs a channel")
    sends[i] = case._case == "send"
    values[i] = case._value
  end
  local index, value, ok = op("chan_select", handles, sends, values, #list, has_default)
  if index == 0 then return {default = true, ok = true} end
  return {channel = list[index]._ch, value = value, ok = ok}
end

-- ---------------------------------------------------------------------------
-- messages and payloads
-- ---------------------------------------------------------------------------

local Payload = {}
Payload.__index = Payload
Payload.__metatable = "payload"
function Payload:data() return self._data end
local function new_payload(data) return setmetatable({_data = data}, Payload) end

local Message = {}
Message.__metatable = "message"
-- Methods first; then, as the user's documents read it (`msg.approved`), the
-- fields of the first payload's data.
Message.__index = function(self, key)
  local method = Message[key]
  if method ~= nil then return method end
  local values = rawget(self, "_values")
  local data = values and values[1]
  if type(data) == "table" then return data[key] end
  return nil
end
function Message:topic() return self._topic end
function Message:from() return self._from end
function Message:payload()
  local n = self._n
  if n == 0 then return nil end
  if n == 1 then return new_payload(self._values[1]) end
  local list = {}
  for i = 1, n do list[i] = new_payload(self._values[i]) end
  return list
end
Message.__tostring = function(self) return "process.Message{topic=" .. tostring(self._topic) .. "}" end

local function new_message(topic, from, n, values)
  return setmetatable({_topic = topic, _from = from or "", _n = n, _values = values}, Message)
end

-- ---------------------------------------------------------------------------
-- time
-- ---------------------------------------------------------------------------

local Duration, Time = {}, {}
Duration.__index = Duration
Duration.__metatable = "duration"
Time.__index = Time
Time.__metatable = "time"

local NS = {NANOSECOND = 1, MICROSECOND = 1000, MILLISECOND = 1000000, SECOND = 1000000000,
            MINUTE = 60000000000, HOUR = 3600000000000}

local function new_duration(ns) return setmetatable({_ns = ns}, Duration) end
local function new_time(ns) return setmetatable({_ns = ns}, Time) end

function Duration:nanoseconds() return self._ns end
function Duration:microseconds() return self._ns // 1000 end
function Duration:milliseconds() return self._ns // 1000000 end
function Duration:seconds() return self._ns / 1e9 end
function Duration:minutes() return self._ns / 6e10 end
function Duration:hours() return self._ns / 3.6e12 end
Duration.__tostring = function(self) return op("format_duration", self._ns) end
Duration.__eq = function(a, b) return a._ns == b._ns end
Duration.__lt = function(a, b) return a._ns < b._ns end
Duration.__le = function(a, b) return a._ns <= b._ns end

-- Nanoseconds from a duration argument: string ("5s"), number (ns) or Duration.
local function duration_ns(value, what)
  local mt = getmetatable(value)
  if mt == "duration" then return value._ns end
  if math_type(value) == "integer" then return value end
  if math_type(value) == "float" then
    local ns = math_floor(value + 0.5)  -- stays a float when NaN, infinite or beyond 64 bits
    if math_type(ns) == "integer" then return ns end
    return nil, invalid((what or "duration") .. ": " .. tostring(value) .. " is not a duration")
  end
  if type(value) == "string" then
    local ns, err = host("parse_duration", value)
    if ns == nil then return nil, err end
    return ns
  end
  return nil, invalid((what or "duration") .. ": expected a string, a number of nanoseconds or a Duration")
end

-- A Time is an instant (nanoseconds since the Unix epoch) and the location it
-- is shown in (_zone: "" for UTC, see actors/lua/gotime.py); its calendar
-- fields, layouts and zones are Go's, computed on the Python side.
local Location = {}
Location.__index = Location
Location.__metatable = "location"
local function new_location(zone, name) return setmetatable({_zone = zone, _name = name}, Location) end
function Location:string() return self._name end
Location.__tostring = function(self) return self._name end

local function zone_of(loc, what)
  if loc == nil then return "" end
  if getmetatable(loc) ~= "location" then error((what or "time") .. ": expected a Location", 3) end
  return loc._zone
end

local function new_time_in(ns, zone) return setmetatable({_ns = ns, _zone = zone}, Time) end

-- "Local" is the host's zone; a workflow's is UTC, as its os.date: a replay on
-- another machine must see the same wall clock.
local LOCAL_ZONE = config.deterministic and "" or "Local"

-- A Time is 64 bits of nanoseconds: these are the seconds it can hold (years 1678 to 2262).
local MAX_UNIX, MAX_NS, MIN_NS = 9223372036, math.maxinteger, math.mininteger

-- ns + delta, or nil when the sum leaves the 64 bits a Time holds.
local function add_ns(ns, delta)
  if (delta > 0 and ns > MAX_NS - delta) or (delta < 0 and ns < MIN_NS - delta) then return nil end
  return ns + delta
end


local function time_arg(t, what)
  if getmetatable(t) ~= "time" then error(what .. ": expected a Time", 3) end
  return t._ns
end

local function fields(t) return op("time_fields", t._ns, t._zone or "") end

function Time:unix() return self._ns // 1000000000 end
function Time:unix_nano() return self._ns end
function Time:add(d)
  local ns, err = duration_ns(d)
  if ns == nil then error(err, 2) end
  local sum = add_ns(self._ns, ns)
  if sum == nil then error(invalid("Time:add: the result is outside the years 1678 to 2262"), 2) end
  return new_time_in(sum, self._zone)
end
function Time:sub(t) return new_duration(self._ns - time_arg(t, "Time:sub")) end
function Time:add_date(years, months, days)
  local zone = self._zone or ""
  return new_time_in(op("time_add_date", self._ns, zone, years or 0, months or 0, days or 0), zone)
end
function Time:before(t) return self._ns < time_arg(t, "Time:before") end
function Time:after(t) return self._ns > time_arg(t, "Time:after") end
function Time:equal(t) return self._ns == time_arg(t, "Time:equal") end
-- Go's zero Time (January 1, year 1) is outside what 64 bits of nanoseconds hold (1678-2262).
function Time:is_zero() return false end
function Time:format_rfc3339() return op("format_time", self._ns, "RFC3339", self._zone or "") end
function Time:format(layout)
  if type(layout) ~= "string" then error("Time:format: expected a layout string", 2) end
  return op("format_time", self._ns, layout, self._zone or "")
end
function Time:date()
  local year, month, day = fields(self)
  return year, month, day
end
function Time:clock()
  local _, _, _, hour, minute, second = fields(self)
  return hour, minute, second
end
function Time:year() return (fields(self)) end
function Time:month() return (select(2, fields(self))) end
function Time:day() return (select(3, fields(self))) end
function Time:hour() return (select(4, fields(self))) end
function Time:minute() return (select(5, fields(self))) end
function Time:second() return (select(6, fields(self))) end
function Time:nanosecond() return self._ns % 1000000000 end
function Time:weekday() return (select(8, fields(self))) end
function Time:year_day() return (select(9, fields(self))) end
function Time:utc() return new_time_in(self._ns, "") end
function Time:in_local() return new_time_in(self._ns, LOCAL_ZONE) end
function Time:in_location(loc) return new_time_in(self._ns, zone_of(loc, "Time:in_location")) end
function Time:location()
  local zone = self._zone or ""
  return new_location(zone, op("time_zone_name", zone))
end
local function rounding_ns(d, what)
  if getmetatable(d) ~= "duration" then error(what .. ": expected a Duration", 3) end
  return d._ns
end
-- Go rounds and truncates relative to its zero time (January 1, year 1).
function Time:truncate(d)
  return new_time_in(op("time_round", self._ns, rounding_ns(d, "Time:truncate"), false), self._zone)
end
function Time:round(d)
  return new_time_in(op("time_round", self._ns, rounding_ns(d, "Time:round"), true), self._zone)
end
Time.__tostring = function(self) return op("format_time", self._ns, "RFC3339", self._zone or "") end
Time.__eq = function(a, b) return a._ns == b._ns end
Time.__lt = function(a, b) return a._ns < b._ns end
Time.__le = function(a, b) return a._ns <= b._ns end

local time = {}
for k, v in pairs(NS) do time[k] = v end
for name, layout in pairs(config.time_layouts) do time[name] = layout end
for i, name in ipairs({"JANUARY", "FEBRUARY", "MARCH", "APRIL", "MAY", "JUNE", "JULY", "AUGUST",
                       "SEPTEMBER", "OCTOBER", "NOVEMBER", "DECEMBER"}) do time[name] = i end
for i, name in ipairs({"SUNDAY", "MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY"}) do
  time[name] = i - 1
end
time.utc = new_location("", "UTC")
time.localtz = new_location(LOCAL_ZONE, "Local")

function time.now() return new_time(op("now")) end
function time.unix(sec, nsec)
  if math_type(sec) ~= "integer" then error("time.unix: seconds must be an integer", 2) end
  local nanos = math.tointeger(nsec or 0)
  if nanos == nil then error("time.unix: nanoseconds must be an integer", 2) end
  local ns = sec >= -MAX_UNIX and sec <= MAX_UNIX and add_ns(sec * 1000000000, nanos) or nil
  if ns == nil then
    return nil, invalid("time.unix: " .. sec .. " s and " .. nanos
      .. " ns are outside the times a Time holds (years 1678 to 2262)")
  end
  return new_time(ns)
end
function time.date(year, month, day, hour, minute, second, nsec, loc)
  for i, v in ipairs({year, month, day}) do
    if math_type(v) ~= "integer" then error("time.date: year, month and day must be integers", 2) end
  end
  local zone = loc == nil and LOCAL_ZONE or zone_of(loc, "time.date")
  local ns, err = op("time_date", year, month, day, hour or 0, minute or 0, second or 0, nsec or 0, zone)
  if ns == nil then return nil, err end
  return new_time_in(ns, zone)
end
function time.parse(layout, value, loc)
  if type(layout) ~= "string" or type(value) ~= "string" then
    return nil, invalid("time.parse: expected a layout and a value string")
  end
  local ns, zone = op("time_parse", layout, value, zone_of(loc, "time.parse"))
  if ns == nil then return nil, zone end
  return new_time_in(ns, zone)
end
function time.load_location(name)
  if type(name) ~= "string" then return nil, invalid("time.load_location: expected a name") end
  local zone, err = op("time_location", name)
  if zone == nil then return nil, err end
  return new_location(zone, name)
end
function time.fixed_zone(name, offset)
  if type(name) ~= "string" or math_type(offset) ~= "integer" then
    error("time.fixed_zone: expected a name and an offset in seconds", 2)
  end
  local zone, err = op("time_fixed_zone", name, offset)
  if zone == nil then error(err, 2) end
  return new_location(zone, name)
end
function time.parse_duration(value)
  local ns, err = duration_ns(value)
  if ns == nil then return nil, err end
  return new_duration(ns)
end
function time.sleep(d)
  local ns, err = duration_ns(d, "time.sleep")
  if ns == nil then return nil, err end
  op("sleep", ns)
  return true
end
function time.after(d)
  local ns, err = duration_ns(d, "time.after")
  if ns == nil then return nil, err end
  if ns <= 0 then return nil, invalid("time.after: duration must be positive") end
  return op("after", ns)
end

local Timer = {}
Timer.__index = Timer
Timer.__metatable = "timer"
function Timer:channel() return self._ch end
Timer.response = Timer.channel
function Timer:stop() return op("timer_stop", self._id) end
function Timer:reset(d)
  local ns, err = duration_ns(d, "timer:reset")
  if ns == nil then return nil, err end
  return op("timer_reset", self._id, ns)
end

function time.timer(d)
  local ns, err = duration_ns(d, "time.timer")
  if ns == nil then return nil, err end
  if ns <= 0 then return nil, invalid("time.timer: duration must be positive") end
  local id, ch = op("timer", ns, false)
  return setmetatable({_id = id, _ch = ch}, Timer)
end

function time.ticker(d)
  local ns, err = duration_ns(d, "time.ticker")
  if ns == nil then return nil, err end
  if ns <= 0 then return nil, invalid("time.ticker: duration must be positive") end
  local id, ch = op("timer", ns, true)
  return setmetatable({_id = id, _ch = ch}, Timer)
end

-- ---------------------------------------------------------------------------
-- process
-- ---------------------------------------------------------------------------

local function check_dest(value, fn)
  if type(value) ~= "string" then
    error(fn .. ": expected a PID or a name (string), got " .. type(value), 3)
  end
end

-- A plain table: like every library table it reaches a process as a read-only view.
local process = {event = {EXIT = "pid.exit", LINK_DOWN = "pid.link.down", CANCEL = "pid.cancel"}}

function process.pid() return op("pid") end
function process.id() return op("entry_id") end

function process.send(dest, topic, ...)
  if select("#", ...) == 0 and topic == nil then
    return nil, invalid("process.send needs a destination and a topic")
  end
  if type(dest) ~= "string" then return nil, invalid("process.send: destination must be a PID or a name") end
  if type(topic) ~= "string" then return nil, invalid("process.send: topic must be a string") end
  return op("send", dest, topic, select("#", ...), ...)
end

local function spawn_with(spec, id, host_id, ...)
  if type(id) ~= "string" or type(host_id) ~= "string" then
    return nil, invalid("spawn needs an entry ID and a host ID")
  end
  return op("spawn", id, host_id, spec, select("#", ...), ...)
end

function process.spawn(id, host_id, ...) return spawn_with(nil, id, host_id, ...) end
function process.spawn_monitored(id, host_id, ...) return spawn_with({monitor = true}, id, host_id, ...) end
function process.spawn_linked(id, host_id, ...) return spawn_with({link = true}, id, host_id, ...) end
function process.spawn_linked_monitored(id, host_id, ...)
  return spawn_with({link = true, monitor = true}, id, host_id, ...)
end

local function exec_with(spec, id, host_id, ...)
  if type(id) ~= "string" or not string_find(id, ":", 1, true) then
    return nil, invalid("process.exec: entry ID must be namespace:name")
  end
  if type(host_id) ~= "string" then return nil, invalid("process.exec: host must be a string") end
  return op("exec", id, host_id, spec, select("#", ...), ...)
end

function process.exec(id, host_id, ...) return exec_with(nil, id, host_id, ...) end

function process.terminate(dest)
  check_dest(dest, "process.terminate")
  return op("terminate", dest)
end

function process.cancel(dest, arg)
  check_dest(dest, "process.cancel")
  local deadline, reason = nil, ""
  if arg ~= nil then
    if type(arg) == "number" then
      deadline = math_floor(arg * 1000000 + 0.5)  -- milliseconds
    elseif type(arg) == "string" then
      local ns = host("parse_duration", arg)
      if ns ~= nil then deadline = ns else reason = arg end
    elseif getmetatable(arg) == "duration" then
      deadline = arg._ns
    else
      return nil, invalid("process.cancel: expected a deadline or a reason")
    end
  end
  return op("cancel", dest, deadline, reason)
end

function process.monitor(dest) check_dest(dest, "process.monitor"); return op("monitor", dest) end
function process.unmonitor(dest) check_dest(dest, "process.unmonitor"); return op("unmonitor", dest) end
function process.link(dest) check_dest(dest, "process.link"); return op("link", dest) end
function process.unlink(dest) check_dest(dest, "process.unlink"); return op("unlink", dest) end

function process.get_options() return op("get_options") end
function process.set_options(options)
  if type(options) ~= "table" then
    return false, invalid("process.set_options: expected a table")
  end
  local ok, err = op("set_options", options)
  if not ok then return false, err end
  return true, nil
end

-- The driver hands back the same channel object for the same subscription,
-- so `process.listen("x") == process.listen("x")` and select results compare.
function process.inbox() return op("inbox") end
function process.events() return op("events") end
function process.listen(topic, options)
  local as_message = type(options) == "table" and options.message == true
  return op("listen", topic, as_message)
end
function process.unlisten(ch)
  return op("unlisten", channel_handle(ch, "process.unlisten: expected a channel"))
end

function process.upgrade(id, ...)
  return op("upgrade", id, select("#", ...), ...)
end

process.registry = {LOCAL = 0, EVENTUAL = 1, CONSISTENT = 2, STRONG = 3}
function process.registry.register(name, pid, scope) return op("register", name, pid, scope) end
function process.registry.lookup(name) return op("lookup", name) end
function process.registry.unregister(name, scope) return op("unregister", name, scope) end

-- The immutable spawner builder.
local Spawner = {}
Spawner.__index = Spawner
Spawner.__metatable = "spawner"

local function copy(t)
  local out = {}
  if t then for k, v in pairs(t) do out[k] = v end end
  return out
end

local function new_spawner(state) return setmetatable({_s = state}, Spawner) end

local function merge(into, from, what)
  if type(from) ~= "table" then error(what .. ": expected a table", 4) end
  for k, v in pairs(from) do
    if type(k) ~= "string" then error(what .. ": keys must be strings", 4) end
    into[k] = v
  end
  return into
end

-- A copy of builder state ``state`` whose table ``field`` has ``values`` merged in
-- (builders are immutable: every with_* returns a new one).
local function merged(state, field, values, what)
  local s = copy(state)
  s[field] = merge(copy(s[field]), values, what)
  return s
end

function Spawner:with_context(values) return new_spawner(merged(self._s, "context", values, "with_context")) end
-- A spawner's options are a workflow child's start options; any other key is refused
-- (it would be ignored), Wippy's `network` (a network.* entry for the child's
-- connections) too: actorflow has no network entries.
local function check_spawn_options(options)
  if type(options) ~= "table" then return end  -- merge() says what is wrong
  for key in pairs(options) do
    if type(key) == "string" and string_sub(key, 1, 9) ~= "workflow." and string_sub(key, 1, 18) ~= "temporal.workflow." then
      local why = key == "network" and "selecting a network (Wippy's network.* entries) is not supported by actorflow"
        or "a spawner's options are a workflow's start options (workflow.* or temporal.workflow.*)"
      error(invalid("with_options: unknown option '" .. key .. "': " .. why), 2)
    end
  end
end
function Spawner:with_options(options)
  check_spawn_options(options)
  return new_spawner(merged(self._s, "options", options, "with_options"))
end
function Spawner:with_name(name)
  if type(name) ~= "string" or name == "" then error("with_name: name must be a non-empty string", 2) end
  local s = copy(self._s)
  s.name = name
  return new_spawner(s)
end
function Spawner:with_message(topic, ...)
  if type(topic) ~= "string" or topic == "" or string_sub(topic, 1, 1) == "@" then
    error("with_message: invalid topic " .. tostring(topic), 2)
  end
  local s = copy(self._s)
  local messages = copy(s.messages)
  messages[#messages + 1] = {topic = topic, n = select("#", ...), values = pack(...)}
  s.messages = messages
  return new_spawner(s)
end
function Spawner:with_actor() return self end
function Spawner:with_scope() return self end

local function spawner_spec(self, extra)
  local s = copy(self._s)
  for k, v in pairs(extra) do s[k] = v end
  return s
end
function Spawner:spawn(id, host_id, ...) return spawn_with(spawner_spec(self, {}), id, host_id, ...) end
function Spawner:spawn_monitored(id, host_id, ...)
  return spawn_with(spawner_spec(self, {monitor = true}), id, host_id, ...)
end
function Spawner:spawn_linked(id, host_id, ...)
  return spawn_with(spawner_spec(self, {link = true}), id, host_id, ...)
end
function Spawner:spawn_linked_monitored(id, host_id, ...)
  return spawn_with(spawner_spec(self, {link = true, monitor = true}), id, host_id, ...)
end
function Spawner:exec(id, host_id, ...) return exec_with(spawner_spec(self, {}), id, host_id, ...) end

function process.with_context(values) return new_spawner({}):with_context(values) end
function process.with_options(options) return new_spawner({}):with_options(options) end

-- ---------------------------------------------------------------------------
-- funcs, ctx, logger, workflow (json, uuid, crypto… are plug-ins: actors/lua/modules.py)
-- ---------------------------------------------------------------------------

local Executor = {}
Executor.__index = Executor
Executor.__metatable = "executor"
local function new_executor(state) return setmetatable({_s = state}, Executor) end

function Executor:with_options(options) return new_executor(merged(self._s, "options", options, "with_options")) end
function Executor:with_context(values) return new_executor(merged(self._s, "context", values, "with_context")) end
function Executor:with_actor() return self end
function Executor:with_scope() return self end
function Executor:call(target, ...)
  if type(target) ~= "string" or not string_find(target, ":", 1, true) then
    return nil, invalid("funcs.call: target must be namespace:name")
  end
  return op("call", target, self._s, select("#", ...), ...)
end

local Future = {}
Future.__index = Future
Future.__metatable = "future"
function Future:response() return self._ch end
Future.channel = Future.response
function Future:is_complete() return op("future_state", self._id) ~= "pending" end
function Future:is_canceled() return op("future_state", self._id) == "canceled" end
function Future:result()
  local state, value, err = op("future_result", self._id)
  if state == "pending" then return nil, nil end
  if err ~= nil then return nil, err end
  return new_payload(value), nil
end
function Future:error()
  local state, _, err = op("future_result", self._id)
  return err, err ~= nil
end
function Future:cancel() return op("future_cancel", self._id) end

function Executor:async(target, ...)
  if type(target) ~= "string" or not string_find(target, ":", 1, true) then
    return nil, invalid("funcs.async: target must be namespace:name")
  end
  local id, ch = op("call_async", target, self._s, select("#", ...), ...)
  if id == nil then return nil, ch end
  return setmetatable({_id = id, _ch = ch}, Future), nil
end

local funcs = {}
function funcs.new() return new_executor({}) end
function funcs.call(target, ...) return new_executor({}):call(target, ...) end
function funcs.async(target, ...) return new_executor({}):async(target, ...) end

local ctx = {}
function ctx.get(key)
  if type(key) ~= "string" or key == "" then
    return nil, invalid("ctx.get: key must be a non-empty string")
  end
  return op("ctx_get", key)
end
function ctx.all() return op("ctx_all") end

local Logger = {}
Logger.__index = Logger
Logger.__metatable = "logger"
local function new_logger(name, fields) return setmetatable({_name = name, _fields = fields}, Logger) end
-- A field as a log line shows it: a runtime object (duration, time, error, channel, PID…) as
-- its text, a function as "function", plain tables field by field (copied only where
-- something changed; a cycle or a table nested too deeply is left for the conversion to
-- report, as it does for any value).
local function log_value(value, depth, seen)
  local kind = type(value)
  if kind == "function" then return "function" end
  if kind == "thread" then return "coroutine" end
  if kind == "userdata" then return "userdata" end
  if kind ~= "table" then return value end
  local mt = getmetatable(value)
  if type(mt) == "string" or mt == false then
    local shown = tostring(value)
    if string_sub(shown, 1, 6) == "table:" then return mt or "object" end
    return shown
  end
  local done = seen[value]
  if done ~= nil or depth > 64 then return done or value end  -- shown already, or a cycle: as is
  seen[value] = value  -- while inside it (a cycle ends here); then what it is shown as
  local out
  for k, v in pairs(value) do
    local shown = log_value(v, depth + 1, seen)
    if shown ~= v then
      out = out or copy(value)
      out[k] = shown
    end
  end
  seen[value] = out or value
  return out or value
end
local function log(self, level, message, fields)
  local merged = copy(self._fields)
  if type(fields) == "table" then for k, v in pairs(fields) do merged[k] = v end end
  op("log", level, self._name, tostring(message), log_value(merged, 0, {}))
end
function Logger:debug(message, fields) log(self, "debug", message, fields) end
function Logger:info(message, fields) log(self, "info", message, fields) end
function Logger:warn(message, fields) log(self, "warn", message, fields) end
function Logger:error(message, fields) log(self, "error", message, fields) end
function Logger:with(fields)
  local merged = copy(self._fields)
  if type(fields) == "table" then for k, v in pairs(fields) do merged[k] = v end end
  return new_logger(self._name, merged)
end
function Logger:named(name)
  local full = self._name ~= "" and (self._name .. "." .. tostring(name)) or tostring(name)
  return new_logger(full, copy(self._fields))
end
local logger = new_logger("", {})

local workflow = {}
function workflow.info() return op("wf_info") end
function workflow.exec(id, ...)
  if type(id) ~= "string" or not string_find(id, ":", 1, true) then
    return nil, invalid("workflow.exec: entry ID must be namespace:name")
  end
  return op("wf_exec", id, select("#", ...), ...)
end
function workflow.version(change_id, min_supported, max_supported)
  if math_type(min_supported) ~= "integer" or math_type(max_supported) ~= "integer" then
    return nil, invalid("workflow.version: versions must be integers")
  end
  if min_supported > max_supported then
    return nil, invalid("workflow.version: min_supported > max_supported")
  end
  return op("wf_version", tostring(change_id), min_supported, max_supported)
end
function workflow.attrs(attrs)
  if type(attrs) ~= "table" or (attrs.search == nil and attrs.memo == nil) then
    return nil, invalid("workflow.attrs: needs a search or a memo table")
  end
  return op("wf_attrs", attrs.search, attrs.memo)
end
function workflow.history_length() return op("wf_history", "length") end
function workflow.history_size() return op("wf_history", "size") end

-- ---------------------------------------------------------------------------
-- methods called with '.' instead of ':' (or on another kind of value)
-- ---------------------------------------------------------------------------

-- obj.method(x) for obj:method(x) raises "bad argument #1 to 'method' (channel
-- expected, got nil)" at the caller's line instead of an error inside the prelude.
-- Plug-in modules guard their objects' methods the same way (api.methods).
local function kind_of(value)
  local mt = getmetatable(value)
  return type(mt) == "string" and mt or type(value)
end
local function guard_methods(methods, meta, kind, is_instance)
  for name, method in pairs(methods) do
    if type(method) == "function" and string_sub(name, 1, 2) ~= "__" then
      methods[name] = function(self, ...)
        if raw_getmetatable(self) ~= meta and not (is_instance and is_instance(self)) then
          user_error("bad argument #1 to '" .. name .. "' (" .. kind .. " expected, got " .. kind_of(self)
            .. "): call it as value:" .. name .. "(...)")
        end
        return method(self, ...)
      end
    end
  end
end
for meta, kind in pairs({[Error] = "error", [Channel] = "channel", [Payload] = "payload", [Message] = "message",
                         [Duration] = "duration", [Time] = "time", [Location] = "location", [Timer] = "timer",
                         [Spawner] = "spawner", [Executor] = "executor", [Future] = "future"}) do
  guard_methods(meta, meta, kind)
end
-- require("logger") is the root logger seen through a read-only view (its metatable is the view's)
guard_methods(Logger, Logger, "logger", function(value)
  return type(value) == "table" and type(value._name) == "string" and type(value._fields) == "table"
end)

-- ---------------------------------------------------------------------------
-- the sandbox
-- ---------------------------------------------------------------------------

-- The prelude's own modules; add_module() adds the plug-ins an entry lists.
local modules = {
  funcs = funcs, time = time, ctx = ctx, logger = logger,
  workflow = workflow, errors = errors, channel = channel, process = process,
}

-- Several processes may share one Lua state, so nothing shared may be
-- writable from user code. Library tables reach user code only as read-only
-- views made per process (nested tables too), and the objects in them (a
-- table with a metatable, such as time.utc) as copies of its own: rawset
-- works on a table whatever its metatable says. A process can shadow a
-- global in its own environment, never change what another process sees.
-- A view's metatable is shared by every view of the same table (it holds no
-- view: each function gets the view as its first argument), so a view costs
-- one table. __metatable keeps the shared metatable out of user code's reach.
local function own_copy(object, copies)
  local copy = copies[object]
  if copy ~= nil then return copy end
  copy = {}
  copies[object] = copy
  for key, value in next, object do
    if type(value) == "table" then value = own_copy(value, copies) end
    rawset(copy, key, value)
  end
  return setmetatable(copy, raw_getmetatable(object))
end

local view_metas = setmetatable({}, {__mode = "k"})
local function read_only(name, source)
  local meta = view_metas[source]
  if meta == nil then
    meta = {
      __index = function(view, key)
        local value = source[key]
        if type(value) == "table" then
          if getmetatable(value) == nil then
            value = read_only(name .. "." .. tostring(key), value)
          else
            value = own_copy(value, {})
          end
          rawset(view, key, value)  -- this process's own view or copy
        end
        return value
      end,
      __newindex = function() error(name .. " is read-only", 2) end,
      -- Iterate the source through this view: the source itself never reaches user code.
      __pairs = function(view)
        local key
        return function()
          local value
          key, value = next(source, key)
          if key == nil then return nil end
          if type(value) == "table" then value = view[key] end
          return key, value
        end, view, nil
      end,
      __len = function() return #source end,
      __metatable = false,
    }
    view_metas[source] = meta
  end
  return setmetatable({}, meta)
end

-- os.time{...} read as UTC (a workflow must not depend on the worker's time
-- zone): days from the civil date, as Howard Hinnant's algorithm counts them.
local function utc_time(t)
  local year, month = t.year, t.month
  if math_type(year) ~= "integer" or math_type(month) ~= "integer" or math_type(t.day) ~= "integer" then
    error("os.time: year, month and day must be integers", 3)
  end
  year, month = year + (month - 1) // 12, (month - 1) % 12 + 1
  local y = month <= 2 and year - 1 or year
  local era = y // 400
  local yoe = y - era * 400
  local doy = (153 * ((month + 9) % 12) + 2) // 5 + t.day - 1
  local days = era * 146097 + yoe * 365 + yoe // 4 - yoe // 100 + doy - 719468
  return days * 86400 + t.hour * 3600 + t.min * 60 + t.sec
end

-- os.time{…} as Wippy's: a missing year, month or day is today's, a missing hour,
-- minute or second 0 (plain Lua wants the day and takes noon); the table is not changed.
local function date_fields(t)
  if type(t) ~= "table" then error("os.time: expected a table of date fields", 3) end
  local fields = {year = t.year, month = t.month, day = t.day, hour = t.hour or 0, min = t.min or 0,
                  sec = t.sec or 0, isdst = t.isdst}
  if fields.year == nil or fields.month == nil or fields.day == nil then
    local today = os.date(config.deterministic and "!*t" or "*t", op("now") // 1000000000)
    fields.year, fields.month, fields.day = fields.year or today.year, fields.month or today.month,
                                            fields.day or today.day
  end
  return fields
end

local safe_os = {
  platform = "wippy",  -- Wippy code asks os.platform whether Wippy's modules are there: they are
  time = function(t)
    if t == nil then return op("now") // 1000000000 end
    if config.deterministic then return utc_time(date_fields(t)) end
    return os.time(date_fields(t))
  end,
  clock = function()
    if config.deterministic then
      error("os.clock is not available in workflows (not deterministic): use time.now()", 2)
    end
    return os.clock()
  end,
  date = function(format, t)
    format = format or "%c"
    if config.deterministic and string_sub(format, 1, 1) ~= "!" then
      format = "!" .. format  -- UTC: the same text on every worker, whatever its time zone
    end
    return os.date(format, t or (op("now") // 1000000000))
  end,
  difftime = os.difftime,
}

if config.deterministic then
  -- %p prints an address, which differs from one worker process to the next.
  -- (The real string table: ("").format reaches it; a workflow's state is its own.)
  string.format = function(format, ...)
    if type(format) == "string" and string_find((string_gsub(format, "%%%%", "")), "%%p") then
      error("string.format: %p prints a memory address, which is not deterministic in a workflow", 2)
    end
    return string_format(format, ...)
  end
end

local safe_string = {}
for k, v in pairs(string) do safe_string[k] = v end
safe_string.dump = nil

-- An error object is text wherever Lua code reads it as text, as in Wippy:
-- string.find(err, "not found"), string.match(err, …), string.len(err)…
-- (tostring, .. and string.format's %s already go through __tostring).
for _, name in ipairs({"byte", "find", "gmatch", "gsub", "len", "lower", "match", "rep", "reverse", "sub", "upper"}) do
  local fn = string[name]
  safe_string[name] = function(s, a, b, c)
    if type(s) == "table" and is_error(s) then s = Error.__tostring(s) end
    return fn(s, a, b, c)
  end
end

local safe_math = {}
for k, v in pairs(math) do safe_math[k] = v end
safe_math.random = function(m, n) return op("random", m, n) end
safe_math.randomseed = function() end

local libraries = {
  string = safe_string, table = table, math = safe_math, utf8 = utf8, os = safe_os,
  coroutine = user_coroutine, process = process, channel = channel, errors = errors,
}

local builtins = {}
for _, name in ipairs({
  "assert", "error", "getmetatable", "ipairs", "next", "pairs", "pcall", "rawequal", "rawget",
  "rawlen", "rawset", "select", "setmetatable", "tonumber", "tostring", "type", "xpcall", "_VERSION",
}) do builtins[name] = _G[name] end

-- pcall and xpcall cannot catch the watchdog's KILLED: a terminated process ends.
builtins.pcall = function(fn, ...) return rethrow_killed(pcall(fn, ...)) end
builtins.xpcall = function(fn, handler, ...)
  return rethrow_killed(xpcall(fn, function(err)
    if err == KILLED then return KILLED end
    return handler(err)
  end, ...))
end

-- Wippy's runtime objects are userdata: type() says so of ours too (Wippy code
-- tells an error object from a message string, or a Time from a number, that way).
local USERDATA_KINDS = {error = true, time = true, duration = true, location = true, timer = true,
                        channel = true, message = true, payload = true, future = true}
builtins.type = function(value)
  local kind = type(value)
  if kind == "table" and USERDATA_KINDS[getmetatable(value)] then return "userdata" end
  return kind
end

-- The metatables of Python objects (lupa's, shared by every process of the
-- state) are not user code's business.
builtins.getmetatable = function(value)
  if type(value) == "userdata" then return nil end
  return getmetatable(value)
end

-- A __gc finalizer runs whenever the collector decides, inside whichever
-- process is running then (processes share Lua states): refused.
builtins.setmetatable = function(t, mt)
  if type(mt) == "table" and rawget(mt, "__gc") ~= nil then
    error("setmetatable: __gc finalizers are not allowed in the sandbox", 2)
  end
  return setmetatable(t, mt)
end

if config.deterministic then
  -- Keys that are tables, functions or coroutines are hashed by address, so
  -- the order of pairs()/next() over such a table differs between worker
  -- processes (and so does the order of every other key in it): refused, so a
  -- replay can never take another path. String, number and boolean keys are
  -- ordered by the state's fixed hash seed and are the same everywhere.
  local function check_keys(t, what)
    for k in next, t do
      local kind = type(k)
      if kind ~= "string" and kind ~= "number" and kind ~= "boolean" then
        error(what .. ": a table with " .. kind .. " keys has no deterministic order in a workflow;"
              .. " key it by a string or number", 3)
      end
    end
  end
  builtins.pairs = function(t)
    local iterate, state, first = pairs(t)
    if iterate == next and type(state) == "table" then check_keys(state, "pairs") end
    return iterate, state, first
  end
  builtins.next = function(t, k)
    if k == nil and type(t) == "table" then check_keys(t, "next") end
    return next(t, k)
  end
  -- tostring of a table or function shows its address: numbered in order of
  -- first use instead, the same on every replay.
  local numbers, count = setmetatable({}, {__mode = "k"}), 0
  builtins.tostring = function(v)
    local text = tostring(v)
    local kind = type(v)
    if kind == "table" or kind == "function" or kind == "thread" or kind == "userdata" then
      local prefix = string_match(text, "^(.-): 0x%x+$")
      if prefix ~= nil then
        local number = numbers[v]
        if number == nil then
          count = count + 1
          number = count
          numbers[v] = number
        end
        return string_format("%s: 0x%08x", prefix, number)
      end
    end
    return text
  end
end

-- The thread an error was made on, as tostring shows it (numbered in order in a workflow).
thread_name = function() return (builtins.tostring((raw_running()))) end

local function print_line(...)
  local parts = {}
  for i = 1, select("#", ...) do parts[i] = builtins.tostring((select(i, ...))) end
  op("log", "info", "print", table.concat(parts, "\t"), {})
end

local real_load = load
local always_allowed = {errors = true, channel = true, process = true}

-- An entry's require, made once per modules list and shared by the processes
-- of the entry: a function cannot be changed, and it holds nothing but the list.
-- An entry that imports libraries (`imports:` in its YAML) gets a require of
-- its own instead (new_env), since each process has its own library instances.
--
-- How imports reach Lua (actors/entries/_imports.py): the loader appends to the
-- entry's modules list a marker module "__imp_<digest>" whose table maps each
-- alias to a library module "__lib_<digest>", then every module the libraries
-- need. Names before the marker are the ones the entry may require; names
-- after it are only loaded into the state. A library module's table holds the
-- library's source, chunk name, own modules (grants) and own imports.
local requires = {}
local IMPORTS_MARKER = "__imp_"

local function require_module(allowed, name)
  if type(name) ~= "string" then user_error("require: module name must be a string") end
  local module = modules[name]
  local permitted = allowed[name] or always_allowed[name]
  if module == nil or not permitted then  -- the host knows every module: it says why
    user_error(host("module_refused", name, permitted == true))
  end
  return read_only(name, module)
end

local function require_for(allowed_list)
  local require = requires[allowed_list]
  if require == nil then
    local allowed, imports = {}, nil
    for _, name in ipairs(allowed_list) do
      if string_sub(name, 1, #IMPORTS_MARKER) == IMPORTS_MARKER then
        local marker = modules[name]
        imports = marker and marker.imports or {}
        break
      end
      allowed[name] = true
    end
    if imports == nil then
      require = function(name) return require_module(allowed, name) end
    else
      require = {allowed = allowed, imports = imports}  -- made per environment by new_env
    end
    requires[allowed_list] = require
  end
  return require
end

-- Libraries (library.lua entries): compiled once per state, run once per
-- process that requires them (a library's top-level locals are that
-- process's own, as in Wippy where each process has its own Lua state), with
-- the process's globals as theirs (Wippy's libraries share the requiring
-- process's global table: a library may set globals its importer uses) but a
-- require of their own: their own modules and imports.
local LOADING = {}
local library_factories = {}                          -- library module name -> factory
local library_grants = {}                             -- library module name -> allowed set
local loaded_libraries = setmetatable({}, {__mode = "k"})  -- process env -> {library -> value}

local function library_factory(name, spec)
  local factory = library_factories[name]
  if factory == nil then
    local source = spec.source
    if string_sub(source, 1, 1) == "#" then source = "--" .. source end
    local chunk, err = real_load("return function(_ENV, ...) " .. source .. "\nend", "@" .. spec.chunk, "t")
    if chunk == nil then return nil, err end
    factory = chunk()
    library_factories[name] = factory
  end
  return factory
end

local make_require

local function load_library(env, alias, name)
  local loaded = loaded_libraries[env]
  if loaded == nil then
    loaded = {}
    loaded_libraries[env] = loaded
  end
  local value = loaded[name]
  if value == LOADING then
    user_error("require: library '" .. alias .. "' is being loaded: the imports form a cycle")
  end
  if value ~= nil then return value end
  local spec = modules[name]
  if spec == nil then  -- the state did not load it: a workflow's, for a library that is not deterministic
    user_error("require: library '" .. alias .. "' is not available here"
          .. (config.deterministic and " (it uses modules that are not available in workflows)" or ""))
  end
  local factory, err = library_factory(name, spec)
  if factory == nil then user_error(err) end
  local grants = library_grants[name]
  if grants == nil then
    grants = {}
    for _, module in ipairs(spec.grants) do grants[module] = true end
    library_grants[name] = grants
  end
  local lib_require = make_require(env, grants, spec.imports)
  local lib_env = setmetatable({}, {
    __index = function(_, key)
      if key == "require" then return lib_require end
      if key == "_G" then return env end
      return env[key]
    end,
    __newindex = env,
    __metatable = false,
  })
  loaded[name] = LOADING
  local ok, result = pcall(factory, lib_env)
  if not ok then
    loaded[name] = nil
    error(result, 0)  -- as raised (the watchdog's KILLED included)
  end
  if result == nil then result = true end
  loaded[name] = result
  return result
end

make_require = function(env, allowed, imports)
  return function(name)
    local library = type(name) == "string" and imports[name] or nil
    if library ~= nil then return load_library(env, name, library) end
    return require_module(allowed, name)
  end
end

-- Made on first use: most programs never call load or read _G.
local env_functions = {
  load = function(env)
    return function(chunk, chunkname, mode, chunk_env)
      -- Text only, whatever the mode allows: a binary chunk could break the sandbox.
      if mode ~= nil and mode ~= "t" and mode ~= "bt" then return nil, "only text chunks can be loaded" end
      return real_load(chunk, chunkname, "t", chunk_env or env)
    end
  end,
  _G = function(env) return env end,
}

-- Library views and the functions above are made on first use, in the
-- environment that asked.
local env_meta = {
  __index = function(env, key)
    local library = libraries[key]
    if library ~= nil then
      local view = read_only(key, library)
      rawset(env, key, view)
      return view
    end
    local make = env_functions[key]
    if make ~= nil then
      local value = make(env)
      rawset(env, key, value)
      return value
    end
    return builtins[key]
  end,
  __metatable = false,
}

-- A process's own global environment.
local no_modules = {}
local function new_env(allowed_list)
  local require = require_for(allowed_list or no_modules)
  if type(require) == "function" then
    return setmetatable({print = print_line, require = require}, env_meta)
  end
  local env = setmetatable({print = print_line}, env_meta)
  rawset(env, "require", make_require(env, require.allowed, require.imports))
  return env
end

-- A plug-in module (registered from Python): its source runs once per state,
-- in an environment like a process's that may require the prelude's modules,
-- with `api` as its argument; it returns the module table. api.call performs
-- the module's own operations ("<module>.<operation>" on the Python side).
local builtin_list = {}
for name in pairs(modules) do builtin_list[#builtin_list + 1] = name end

local function add_module(name, source, chunkname)
  local chunk, err = real_load(source, "@" .. chunkname, "t", new_env(builtin_list))
  if chunk == nil then return nil, err end
  local prefix = name .. "."
  local api = {
    call = function(operation, ...) return op(prefix .. operation, ...) end,
    new_error = function(kind, message, retryable, details) return new_error(kind, message, retryable, details) end,
    is_error = is_error,
    methods = guard_methods,  -- api.methods(methods, metatable, kind): see guard_methods
  }
  local ok, module = pcall(chunk, api)
  if not ok then return nil, tostring(module) end
  if type(module) ~= "table" then return nil, chunkname .. ": a module's source must return its table" end
  modules[name] = module
  return true
end

-- An entry's source compiled once per state, as a factory: calling it with
-- an environment runs the file with that environment as its globals. The
-- wrapper stays on the file's first line, so line numbers are the file's.
local function compile(source, chunkname)
  if string_sub(source, 1, 1) == "#" then source = "--" .. source end  -- a shebang line
  local chunk, err = real_load(source, "@" .. chunkname, "t")
  if chunk == nil then return nil, err end  -- the error names the file's own lines
  local wrapped, wrap_err = real_load("return function(_ENV, ...) " .. source .. "\nend", "@" .. chunkname, "t")
  if wrapped == nil then return nil, wrap_err end
  return wrapped()
end

-- Run compiled code in a new environment and return the function to run:
-- the file may return a function, or a table holding `method`.
local function instantiate(factory, chunkname, method, allowed_list)
  local env = new_env(allowed_list)
  -- A file may loop at its top level too: it would hold a worker thread (a workflow) or
  -- a lane thread (a process: top_level_watchdog, set on the main thread once) for good.
  local workflow_watch = config.deterministic
  if workflow_watch then sethook(watchdog, "", WATCH_EVERY) end
  top_level = true
  local ok, result = pcall(factory, env)
  top_level = false
  if workflow_watch then sethook() end
  if not ok then return nil, result == KILLED and "process terminated" or tostring(result) end
  if type(result) == "function" then return result end
  if type(result) == "table" then
    local fn = rawget(result, method or "main")
    if type(fn) == "function" then return fn end
    return nil, chunkname .. ": the module has no function '" .. tostring(method or "main") .. "'"
  end
  local fn = rawget(env, method or "main")
  if type(fn) == "function" then return fn end
  return nil, chunkname .. ": must return a function or a table with '" .. tostring(method or "main") .. "'"
end

-- Start a program in one call into Lua (each call costs a GIL round trip):
-- instantiate the entry, create its main coroutine and run it to its first
-- operation. Returns the coroutine and what its first resume returned.
local function launch(bytecode, chunkname, method, allowed_list, ...)
  local fn, err = instantiate(bytecode, chunkname, method, allowed_list)
  if fn == nil then return nil, err end
  local co = raw_create(task_body)
  return co, raw_resume(co, fn, ...)
end

-- A class's methods are reached through a table of their own: with
-- `Class.__index = Class`, `object.__index` handed user code the class
-- itself, shared by every process of the state and writable.
for _, class in ipairs({Error, Channel, Payload, Duration, Time, Location, Timer, Spawner, Executor, Future, Logger}) do
  local methods = {}
  for key, value in pairs(class) do
    if type(key) ~= "string" or string_sub(key, 1, 2) ~= "__" then methods[key] = value end
  end
  class.__index = methods
end

if not config.deterministic then sethook(top_level_watchdog, "", WATCH_EVERY) end

-- Nothing of the real environment stays reachable from user code.
string.dump = nil
getmetatable("").__metatable = false  -- the shared string metatable cannot be reached
python = nil
debug = nil
io = nil
package = nil
dofile, loadfile, loadstring, collectgarbage = nil, nil, nil, nil

-- ---------------------------------------------------------------------------
-- memory: what each program of a shared state holds (issue 12, defect 10)
-- ---------------------------------------------------------------------------

-- A shared state has one memory cap for all its programs; when it runs short,
-- the driver asks what each program reaches (from its coroutines: their
-- stacks, the functions running and their upvalues, its environment) and ends
-- the one holding the most, so an innocent neighbour is not the one whose
-- next allocation fails. Sizes are estimates (Lua does not say what an object
-- costs); what the state's own tables hold (libraries, modules) counts for
-- nobody, and what two programs share counts for the first.
local WALK_LIMIT = 4000000

local function walk(root, seen)
  local size, stack, top, visited = 0, {root}, 1, 0
  while top > 0 do
    local value = stack[top]
    stack[top] = nil
    top = top - 1
    local kind = type(value)
    if kind == "string" then
      if not seen[value] then
        seen[value] = true
        size = size + 24 + #value
      end
    elseif (kind == "table" or kind == "function" or kind == "thread") and not seen[value] then
      seen[value] = true
      visited = visited + 1
      if visited > WALK_LIMIT then break end
      if kind == "table" then
        size = size + 56
        local meta = raw_getmetatable(value)
        if meta ~= nil then top = top + 1; stack[top] = meta end
        for key, item in next, value do
          size = size + 24
          top = top + 1; stack[top] = key
          top = top + 1; stack[top] = item
        end
      elseif kind == "function" then
        size = size + 40
        local index = 1
        while true do
          local name, upvalue = debug_getupvalue(value, index)
          if name == nil then break end
          top = top + 1; stack[top] = upvalue
          index = index + 1
        end
      else
        size = size + 200
        local level = 0
        while true do
          local info = getinfo(value, level, "f")
          if info == nil then break end
          top = top + 1; stack[top] = info.func
          local index = 1
          while true do
            local name, item = debug_getlocal(value, level, index)
            if name == nil then break end
            top = top + 1; stack[top] = item
            index = index + 1
          end
          level = level + 1
        end
      end
    end
  end
  return size
end

-- programs: one list of roots (coroutines, values) per program; their sizes, in order.
local function measure(programs)
  local seen = {}
  for _, shared in ipairs({_G, modules, libraries, builtins, env_meta, requires}) do walk(shared, seen) end
  local sizes = {}
  for index, roots in ipairs(programs) do
    local size = 0
    for _, root in ipairs(roots) do size = size + walk(root, seen) end
    sizes[index] = size
  end
  return sizes
end

return {
  task_body = task_body,
  compile = compile,
  instantiate = instantiate,
  launch = launch,
  add_module = add_module,
  new_error = new_error,
  is_error = is_error,
  new_message = new_message,
  new_payload = new_payload,
  new_time = new_time,
  wrap_channel = wrap_channel,
  new_live = new_live,
  live_handles = live_handles,
  measure = measure,
}
