-- Shared formatting, imported by the CLI and the store (imports: {format: app.lib:format}).
type Todo = {id: integer, title: string, done: boolean?}

local M = {}

function M.todo(t: Todo): string
  return string.format("#%d [%s] %s", t.id, t.done and "x" or " ", t.title)
end

function M.count(n: integer, word: string): string
  return tostring(n) .. " " .. word .. (n == 1 and "" or "s")
end

return M
