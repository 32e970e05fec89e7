-- POST /approvals {id, title, approver, remind_every?} → 202 with the workflow PID;
-- 409 when that approval already exists; 400 when the body is not an approval.
local http = require("http")
local json = require("json")

local function main()
    local req = http.request()
    local approval, err = req:body_json()
    if err or type(approval) ~= "table" or type(approval.id) ~= "string" then
        return http.response():status(400):json({error = "expected {id, title, approver}"})
    end

    local pid, spawn_err = process
        .with_options({
            ["temporal.workflow.id"] = "approval-" .. approval.id,
            ["temporal.workflow.id_conflict_policy"] = "fail",
        })
        :spawn("app:approval", "app:worker", approval)
    if spawn_err then
        return http.response():status(409):json({error = tostring(spawn_err)})
    end
    return http.response():status(202):json({workflow_id = tostring(pid), status = "pending"})
end

return { main = main }
