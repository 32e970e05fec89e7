-- "Operações Seguras para Replay", every one of them.
local funcs = require("funcs")
local time = require("time")
local uuid = require("uuid")
local crypto = require("crypto")
local workflow = require("workflow")

local function main(input)
    -- Activity calls
    local data = funcs.call("app:fetch_data", input.id)

    -- Durable sleep
    time.sleep("10ms")

    -- Current time
    local now = time.now()

    -- UUID generation
    local id = uuid.v4()

    -- Crypto operations
    local bytes = crypto.random_bytes(32)

    -- Child workflows
    local result = workflow.exec("app:child_workflow", {n = 1})

    -- Versioning
    local v = workflow.version("change-1", 1, 2)

    -- Deterministic stand-ins for the unsafe ones
    local clock = os.time()
    local r = math.random(1, 100)

    return {data = data, now = now:unix_nano(), id = id, bytes = #bytes, child = result.echo.n, v = v,
            clock = clock, r = r}
end

return {main = main}
