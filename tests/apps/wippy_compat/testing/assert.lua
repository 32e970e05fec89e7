-- Assert helpers in the style of a Wippy test library: expect(actual, what).to_equal(expected)
-- and the like. A failed expectation raises an INVALID error naming what was checked, so the
-- process or workflow running the checks fails with it. Uses only what every entry has
-- (errors, string): importable from processes and workflows alike.
local test = {}

function test.fail(message)
  error(errors.new({kind = errors.INVALID, message = message}))
end

local function show(value)
  if type(value) == "string" then return string.format("%q", value) end
  return tostring(value)
end

function test.expect(actual, what)
  local label = what or "value"
  local fail = test.fail
  return {
    to_equal = function(expected)
      if actual ~= expected then fail(label .. ": expected " .. show(expected) .. " but got " .. show(actual)) end
    end,
    to_be_true = function() if actual ~= true then fail(label .. ": expected true but got " .. show(actual)) end end,
    to_be_false = function() if actual ~= false then fail(label .. ": expected false but got " .. show(actual)) end end,
    to_be_truthy = function() if not actual then fail(label .. ": expected a true value but got " .. show(actual)) end end,
    to_be_falsy = function() if actual then fail(label .. ": expected false or nil but got " .. show(actual)) end end,
    to_be_nil = function() if actual ~= nil then fail(label .. ": expected nil but got " .. show(actual)) end end,
    not_to_be_nil = function() if actual == nil then fail(label .. ": expected a value") end end,
    to_contain = function(text)
      if not string.find(actual, text, 1, true) then fail(label .. ": " .. show(actual) .. " lacks " .. show(text)) end
    end,
  }
end

return test
