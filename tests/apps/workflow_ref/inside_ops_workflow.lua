-- monitor, link, cancel and terminate called inside a workflow.
local function main(targets)
    local function described(ok, err) return {ok = ok, kind = err and err:kind(), message = err and err:message()} end
    return {
        monitor = described(process.monitor(targets.cancel)),
        link = described(process.link(targets.cancel)),
        unmonitor = described(process.unmonitor(targets.cancel)),
        unlink = described(process.unlink(targets.cancel)),
        cancel = described(process.cancel(targets.cancel)),          -- a cancel request
        terminate = described(process.terminate(targets.terminate)), -- a cancel request too (spec §12.5)
    }
end

return {main = main}
