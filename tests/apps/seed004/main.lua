-- Seed 004, "Starting Workflows", as written; then wait for the workflow's end.
local function main(order_data)
    -- Spawn workflow on temporal worker
    local pid = process.spawn("app.workflows:order_processor", "app:temporal_worker", order_data)

    -- Send signals to workflow
    process.send(pid, "update", {status = "approved"})

    process.monitor(pid)
    local event = process.events():receive()
    return {pid = pid, result = event.result.value}
end

return {main = main}
