-- The os module: Wippy's global os table (time, date, clock, difftime, platform) for the
-- entries that list os among their modules and require it. A table of its own: the global is
-- already a read-only view, and the view of a view made pairs(require("os")) see nothing.
local module = {}
for key, value in pairs(os) do module[key] = value end
return module
