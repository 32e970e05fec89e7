-- A process.lua entry that funcs.call runs like a function (as Wippy allows).
local function main(x)
  if x == "fail" then return nil, errors.new({kind = "Conflict", message = "stock changed"}) end
  return x * 2
end

return {main = main}
