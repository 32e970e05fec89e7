-- Waits for its inbox for ever: a PID to link to, monitor, send to, cancel and terminate.
local function main() process.inbox():receive() end
return {main = main}
