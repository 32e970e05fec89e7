-- A function that fails the way Wippy functions do: a kind in the runtime's spelling,
-- retryability unknown (so a workflow's activity is retried under its policy).
local function main(id)
  return nil, errors.new({kind = "NotFound", message = "order " .. tostring(id) .. " not found"})
end

return {main = main}
