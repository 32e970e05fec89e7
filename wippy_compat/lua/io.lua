-- The io module: the terminal's stdin, stdout and stderr, for processes on a terminal.host
-- (the handlers: wippy_compat/terminal.py).
local api = ...

local io = {}

local function joined(separator, ...)
  local parts = {}
  for i = 1, select("#", ...) do parts[i] = tostring((select(i, ...))) end
  return table.concat(parts, separator)
end

function io.write(...) return api.call("write", "stdout", joined("", ...)) end
function io.print(...) return api.call("write", "stdout", joined("\t", ...) .. "\n") end
function io.eprint(...) return api.call("write", "stderr", joined("\t", ...) .. "\n") end
function io.flush() return api.call("flush") end
function io.args() return api.call("args") end

function io.read(n)
  if n ~= nil and math.type(n) ~= "integer" then
    return nil, api.new_error(errors.INVALID, "io.read: n must be an integer")
  end
  return api.call("read", n or 1024)
end

function io.readline() return api.call("readline") end

function io.raw(enable)
  return nil, api.new_error(errors.INVALID, "io.raw: raw terminal mode is not supported by actorflow")
end

return io
