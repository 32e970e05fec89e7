-- logger fields that hold tables.
local logger = require("logger")

local function main()
  logger:info("order placed", {order = {items = {"apple", "pear"}}, total = 12})
  return true
end

return {main = main}
