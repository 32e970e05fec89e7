-- Amounts as integer cents; lines as "YYYY-MM-DD,who,amount" (parsed with an RE2 regexp).
local text = require("text")

type Line = {date: string, who: string, cents: integer}

local LINE = text.regexp.compile([[^(\d{4}-\d{2}-\d{2}),([a-z]+),(\d+)(?:\.(\d{1,2}))?$]])

local M = {}

function M.parse(line: string): (Line?, string?)
  local m = LINE:find_string_submatch(line)
  if m == nil then return nil, "not DATE,NAME,AMOUNT: " .. line end
  local fraction = m[5] ~= "" and m[5] or "0"
  if #fraction == 1 then fraction = fraction .. "0" end
  return {date = m[2], who = m[3], cents = math.tointeger(tonumber(m[4])) * 100 + math.tointeger(tonumber(fraction))}
end

function M.format(cents: integer, currency: string): string
  return string.format("%d.%02d %s", cents // 100, cents % 100, currency)
end

return M
