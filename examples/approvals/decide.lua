-- POST /approvals/{id}/decision {decision, by} → a signal to the approval's workflow.
local http = require("http")

local function main()
    local req = http.request()
    local decision, err = req:body_json()
    if err or type(decision) ~= "table" or (decision.decision ~= "approve" and decision.decision ~= "reject") then
        return http.response():status(400):json({error = "expected {decision = approve|reject, by}"})
    end
    -- A workflow's PID is {client@worker|workflow ID}.
    local pid = "{app:temporal_client@app:worker|approval-" .. req:param("id") .. "}"
    local ok, send_err = process.send(pid, "decision", decision)
    if send_err then
        return http.response():status(404):json({error = tostring(send_err)})
    end
    return http.response():status(202):json({workflow_id = pid, status = "decided"})
end

return { main = main }
