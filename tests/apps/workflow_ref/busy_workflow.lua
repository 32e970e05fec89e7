-- Never waits: the watchdog stops it after worker_options.deadlock_detection_timeout.
return {main = function()
    local n = 0
    while true do n = n + 1 end
end}
