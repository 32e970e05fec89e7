-- A caller that ends before the function it started asynchronously (and one whose
-- funcs.call is cut short by terminate): the callee's late completion must find nobody.
local funcs = require("funcs")

local function main(probe, how)
  if how == "call" then
    funcs.call("app:slow", process.pid(), probe, "wait")  -- terminated while it waits
    return "unreachable"
  end
  funcs.async("app:slow", process.pid(), probe, "wait")
  return "left"
end

return {main = main}
