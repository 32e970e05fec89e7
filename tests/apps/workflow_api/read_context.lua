local ctx = require("ctx")
return function() return ctx.all() end
