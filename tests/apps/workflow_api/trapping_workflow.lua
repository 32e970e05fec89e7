-- A workflow that traps links: a linked process's failure is a LINK_DOWN event, not its end.
local function main(observer)
    local ok, err = process.set_options({trap_links = true})
    if not ok then return nil, err end
    process.send(observer, "trapping")
    local event = process.events():receive()
    return {kind = event.kind, from = event.from, error = event.result.error and event.result.error:message()}
end

return {main = main}
