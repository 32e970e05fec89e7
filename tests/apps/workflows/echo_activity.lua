-- A function.lua entry called as an activity.
local function main(request)
    return {echoed = request.job_id, data = request.data}
end

return {main = main}
