local logger = require("logger")
return {main = function(text)
    logger:info("logging workflow says " .. text)
    return text
end}
