-- The queue consumer's function: one line per call. A line that does not parse is
-- announced as rejected and acknowledged (redelivering it would not help).
local sql = require("sql")
local events = require("events")
local queue = require("queue")
local logger = require("logger")
local money = require("money")

local function main(line: string): (boolean?, any)
  local entry, problem = money.parse(line)
  if entry == nil then
    events.send("ledger", "rejected", "/lines", {line = line, problem = problem})
    return true
  end
  local db = sql.get("app:db")
  local _, err = db:execute("INSERT INTO ledger (day, who, cents) VALUES (?, ?, ?)", {entry.date, entry.who, entry.cents})
  if err then return nil, err end  -- nacked: the memory driver tries it again later
  events.send("ledger", "booked", "/ledger/" .. entry.who, entry)
  logger:info("booked", {who = entry.who, cents = entry.cents, message = queue.message():id()})
  return true
end

return {main = main}
