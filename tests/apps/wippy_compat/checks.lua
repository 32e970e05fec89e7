-- Wippy code on actorflow: the errors, calls and modules issue 17 names, written as a
-- Wippy app writes them. Runs as a process (app:checks) and as a workflow
-- (app:checks_workflow); returns what it saw for the test to compare as well.
local funcs = require("funcs")
local time = require("time")
local json = require("json")
local ctx = require("ctx")
local uuid = require("uuid")
local crypto = require("crypto")
local os_module = require("os")

-- Assert helpers from the test library (app.testing:assert, imported as "test").
local test = require("test")
local expect = test.expect

local once = funcs.new():with_options({["activity.retry_policy"] = {maximum_attempts = 1}})

local function make_error()
  local err = errors.new({kind = "NotFound", message = "no such order"})  -- made here
  return err
end

-- 1. Error kinds in either spelling.
local function kinds(seen)
  local spellings = {
    NotFound = errors.NOT_FOUND, AlreadyExists = errors.ALREADY_EXISTS, Invalid = errors.INVALID,
    PermissionDenied = errors.PERMISSION_DENIED, Unavailable = errors.UNAVAILABLE,
    Internal = errors.INTERNAL, Canceled = errors.CANCELED, Conflict = errors.CONFLICT,
    Timeout = errors.TIMEOUT, RateLimited = errors.RATE_LIMITED,
  }
  for name, constant in pairs(spellings) do
    local err = errors.new({kind = name, message = name})
    expect(err:kind(), name).to_equal(constant)
    expect(errors.is(err, constant), "errors.is " .. name).to_be_true()
    expect(errors.is(err, name), "errors.is with " .. name).to_be_true()
  end
  -- made by a function (an activity in a workflow), compared by the caller
  local _, err = once:call("app:lookup_order", 7)
  expect(err:kind(), "a function's NotFound").to_equal(errors.NOT_FOUND)
  expect(errors.is(err, errors.NOT_FOUND), "errors.is across the call").to_be_true()
  seen.call_kind = err:kind()
  seen.call_message = err:message()
  -- builder style: errors.new(...):kind(...)
  expect(errors.new("denied"):kind(errors.PERMISSION_DENIED):kind(), "err:kind(k)").to_equal(errors.PERMISSION_DENIED)
end

-- 2. retryable() is false, not nil, for errors retrying cannot fix.
local function retryable(seen)
  local _, duration_err = time.parse_duration("soon")
  local _, parse_err = time.parse(time.RFC3339, "yesterday")
  local _, zone_err = time.load_location("Nowhere/Atlantis")
  local _, json_err = json.decode("{nope")
  local _, encode_err = json.encode({1, nil, 3})
  local _, ctx_err = ctx.get("tenant")
  local _, after_err = time.after(0)
  for what, err in pairs({duration = duration_err, parse = parse_err, zone = zone_err, json = json_err,
                          encode = encode_err, ctx = ctx_err, after = after_err}) do
    expect(err:retryable(), what .. " error retryable()").to_be_false()
  end
  expect(errors.new("unknown"):retryable(), "errors.new retryable()").to_be_nil()
  -- an activity error Temporal retried (twice here): retryable() is true in a workflow
  local _, retried = funcs.new():with_options({["activity.retry_policy"] = {maximum_attempts = 2,
    initial_interval = 10}}):call("app:lookup_order", 8)
  seen.retried = retried:retryable()
  seen.encode_kind = encode_err:kind()
end

-- 3. Errors where Wippy code uses them as text.
local function as_text(seen)
  local _, err = once:call("app:lookup_order", 9)
  expect(string.find(err, "not found"), "string.find(err, ...)").not_to_be_nil()
  expect(string.match(err, "order (%d+)"), "string.match(err, ...)").to_equal("9")
  expect("failed: " .. err, "concatenation").to_equal("failed: order 9 not found")
  expect(err .. "!", "concatenation on the right").to_equal("order 9 not found!")
  expect(string.format("%s", err), "%s").to_equal("order 9 not found")
  expect(tostring(errors.wrap(err, "checkout")), "tostring(wrap)").to_equal("checkout: order 9 not found")
  expect(string.len(err), "string.len(err)").to_equal(#"order 9 not found")
  expect(type(err), "type(err)").to_equal("userdata")
  expect(type(err.message), "err.message").to_equal("function")
  expect(err == err, "err == err").to_be_true()
  expect(err ~= errors.new("other"), "err ~= another").to_be_true()
  expect(errors.new("plain"):details(), "details() without any").to_be_nil()
  expect(errors.wrap(errors.new("plain"), "ctx"):details(), "details() of a wrapped error").to_be_nil()
  seen.text = tostring(err)
end

-- 4. funcs.call and funcs.async on a process.lua entry.
local function process_entries(seen)
  local doubled, err = funcs.call("app:double", 21)
  expect(err, "funcs.call of a process.lua").to_be_nil()
  expect(doubled, "its result").to_equal(42)
  local _, refused = once:call("app:double", "fail")
  expect(refused:kind(), "the callee's kind").to_equal(errors.CONFLICT)
  expect(refused:message(), "the callee's message").to_equal("stock changed")
  local future = funcs.async("app:double", 5)
  local payload, ok = future:response():receive()
  expect(ok, "async on a process.lua").to_be_true()
  expect(payload:data(), "its payload").to_equal(10)
  seen.process_call = doubled
end

-- 5. funcs.async errors arrive on the future's channel.
local function async_errors(seen)
  local future = once:async("app:lookup_order", 11)
  local ch = future:response()
  local value, ok = ch:receive()
  expect(ok, "received, not closed").to_be_true()
  expect(type(value), "the value is the error").to_equal("userdata")
  expect(value:kind(), "its kind").to_equal(errors.NOT_FOUND)
  local after, still = ch:receive()
  expect(still, "then the channel is closed").to_be_false()
  expect(after, "nothing more").to_be_nil()
  local result, err = future:result()
  expect(result, "result() payload").to_be_nil()
  expect(err:message(), "result() error").to_equal("order 11 not found")
  seen.async_error = value:message()
end

-- 7. Modules Wippy code assumes.
local function modules(seen)
  local key = crypto.random.bytes(32)
  expect(#key, "crypto.random.bytes").to_equal(32)
  expect(#crypto.random.string(12), "crypto.random.string").to_equal(12)
  expect(crypto.random.string(6, "x"), "a one-letter charset").to_equal("xxxxxx")
  expect(uuid.version(crypto.random.uuid()), "crypto.random.uuid").to_equal(4)
  expect(crypto.hmac.sha256("key", "The quick brown fox jumps over the lazy dog"), "HMAC-SHA256")
    .to_equal("f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8")
  for _, cipher in ipairs({"aes", "chacha20"}) do
    local sealed = crypto.encrypt[cipher]("card 4242", key, "order-7")
    expect(crypto.decrypt[cipher](sealed, key, "order-7"), cipher .. " round trip").to_equal("card 4242")
    local _, tampered = crypto.decrypt[cipher](sealed, key, "order-8")
    expect(tampered:kind(), cipher .. " with another aad").to_equal(errors.INTERNAL)
  end
  local token = crypto.jwt.encode({sub = "user-1", exp = os.time() + 3600}, "secret")
  local claims, jwt_err = crypto.jwt.verify(token, "secret")
  expect(jwt_err, "jwt.verify").to_be_nil()
  expect(claims.sub, "the claims").to_equal("user-1")
  local _, forged = crypto.jwt.verify(token, "guess")
  expect(forged:kind(), "a wrong secret").to_equal(errors.INTERNAL)
  local _, expired = crypto.jwt.verify(crypto.jwt.encode({sub = "u", exp = os.time() - 1}, "secret"), "secret")
  expect(expired, "an expired token").to_contain("expired")
  local derived = crypto.pbkdf2("password", "salt", 1, 20, "sha256")
  expect(#derived, "pbkdf2 length").to_equal(20)
  expect(crypto.constant_time_compare("abc", "abc"), "constant_time_compare").to_be_true()

  local schema = {type = "object", required = {"name", "email"},
                  properties = {name = {type = "string", minLength = 1}, email = {type = "string", format = "email"},
                                age = {type = "integer", minimum = 0}}}
  local valid, verr = json.validate(schema, {name = "Alice", email = "alice@example.com", age = 30})
  expect(valid, "valid data").to_be_true()
  expect(verr, "no error").to_be_nil()
  local invalid, why = json.validate(schema, {name = "", email = "not-an-email"})
  expect(invalid, "invalid data").to_be_false()
  expect(why:kind(), "its kind").to_equal(errors.INVALID)
  expect(why, "the message").to_contain("/email")
  expect(json.validate_string('{"type":"array","items":{"type":"number"}}', "[1, 2.5]"), "validate_string").to_be_true()

  local info = uuid.parse(uuid.v1())
  expect(info.version, "uuid.parse of a v1").to_equal(1)
  expect(info.variant, "its variant").to_equal("RFC4122")
  expect(math.type(info.timestamp), "its timestamp").to_equal("integer")
  expect(type(time.now()), "type(time.now())").to_equal("userdata")
  expect(type(time.parse_duration("1s")), "type(Duration)").to_equal("userdata")
  expect(os_module.platform, "os.platform").to_equal("wippy")
  expect(os_module.time({year = 2024, month = 6, day = 15}), "os.time without an hour")
    .to_equal(os_module.time({year = 2024, month = 6, day = 15, hour = 0, min = 0, sec = 0}))
  local _, sparse = json.encode({1, nil, 3})
  expect(sparse:kind(), "json.encode of a sparse array").to_equal(errors.INTERNAL)
  seen.v1_version = info.version
  seen.validation = why:message()
end

-- 13.5: the Lua stack where an error was made.
local function stacks(seen)
  local err = make_error()
  local stack = errors.call_stack(err)
  expect(type(stack.thread), "the thread").to_equal("string")
  local top = stack.frames[1]
  expect(top.name, "the frame's function").to_equal("make_error")
  expect(err:stack(), "err:stack()").to_contain("checks.lua:" .. top.line)
  local ok, raised = pcall(function() error(errors.new("raised")) end)
  expect(errors.call_stack(raised).frames[1].source, "a raised error's stack").to_contain("checks.lua")
  seen.stack_line = top.line
  seen.stack_source = top.source
end

local function main()
  local seen = {}
  kinds(seen)
  retryable(seen)
  as_text(seen)
  process_entries(seen)
  async_errors(seen)
  modules(seen)
  stacks(seen)
  return seen
end

return {main = main}
