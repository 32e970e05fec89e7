-- Reads ledger lines from stdin, queues them, waits until they are booked, then
-- prints the totals as YAML with a checksum. Exit status: the rejected lines.
local io = require("io")
local env = require("env")
local queue = require("queue")
local time = require("time")
local yaml = require("yaml")
local hash = require("hash")
local sql = require("sql")
local money = require("money")

local function wait(check: () -> boolean): boolean
  for _ = 1, 1000 do
    if check() then return true end
    time.sleep("5ms")
  end
  return false
end

local function main(): integer
  local queued = 0
  while true do
    local line = io.readline()
    if line == nil then break end
    if line ~= "" then
      local _, err = queue.publish("app:lines", line)
      if err then
        io.eprint("cannot queue:", err)
        return 100
      end
      queued = queued + 1
    end
  end
  wait(function() return process.registry.lookup("ledger.totals") ~= nil end)
  wait(function()
    local info = queue.info("app:lines")
    return info.message_count == 0 and info.in_flight == 0
  end)
  process.send("ledger.totals", "report", {reply_to = process.pid()})
  local report = process.inbox():receive():payload():data()
  local currency = env.get("CURRENCY")
  local totals = {}
  for who, cents in pairs(report.totals) do totals[who] = money.format(cents, currency) end
  local booked = sql.get("app:db"):query("SELECT COUNT(*) AS n FROM ledger")[1].n
  local text = yaml.encode({queued = queued, booked = booked, rejected = report.rejected, totals = totals},
                           {field_order = {"queued", "booked", "rejected", "totals"}, sort_unordered = true})
  io.write(text)
  io.print("sha256: " .. string.sub(hash.sha256(text), 1, 16))
  return report.rejected
end

return {main = main}
