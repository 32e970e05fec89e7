-- Sends a workflow cannot deliver are errors, never silent drops.
local function main()
    local function kind(ok, err) return err and err:kind() or "delivered" end
    return {
        unknown_host = kind(process.send("{nohost|0x00001}", "x", 1)),
        unknown_node = kind(process.send("{ghost@app:processes|0x00001}", "x", 1)),
        unknown_name = kind(process.send("nobody-registered-this", "x", 1)),
        unknown_workflow = kind(process.send("{app:temporal_client@app:worker|no-such-workflow}", "x", 1)),
    }
end

return {main = main}
