-- The test library's helpers fail the program when an expectation does not hold.
local expect = require("test").expect

local function main(which)
  if which == "contain" then
    expect(errors.new("order 7 not found"), "the error").to_contain("shipped")
  elseif which == "falsy" then
    expect("sent", "a send").to_be_falsy()
  end
  expect(41, "the answer").to_equal(42)
  return "unreachable"
end

return {main = main}
