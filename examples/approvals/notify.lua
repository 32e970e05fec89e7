-- Where a real app would send an e-mail or a chat message.
local logger = require("logger")

return function(note)
    logger:info("approval " .. note.id .. ": " .. note.event, note)
    return true
end
