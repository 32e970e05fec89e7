-- Run with process.exec from another node: the sum of the numbers, and where it ran.
local system = require("system")
return function(numbers)
  local total = 0
  for _, n in ipairs(numbers) do total = total + n end
  return {sum = total, node = system.node.id()}
end
