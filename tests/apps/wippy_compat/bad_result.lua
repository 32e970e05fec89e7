-- Returning what cannot leave a program: a function, or a table keyed by a boolean.
local function main(what)
  if what == "function" then return {status = "ok", handler = function() end} end
  return {status = "ok", flags = {[true] = "yes"}}
end

return {main = main}
