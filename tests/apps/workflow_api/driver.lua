-- Runs seed 003's process-side snippets; `mode` selects one.
local time = require("time")

local function spawn_named(order)
    local spawner = process
        .with_options({})
        :with_name("order-" .. order.id)

    local pid, err = spawner:spawn_monitored(
        "app:long_workflow",
        "app:worker",
        {iterations = 1000}
    )
    local pid2 = process.with_options({}):with_name("order-" .. order.id):spawn("app:long_workflow", "app:worker", {iterations = 1})
    process.send(pid, "stop", "now")
    local event = process.events():receive()
    return {same = pid == pid2, err = err, exit = event.result.value}
end

local function explicit_id(order)
    local spawner = process
        .with_options({
            ["temporal.workflow.id"] = "order-" .. order.id,
        })

    local pid, err = spawner:spawn_monitored(
        "app:long_workflow",
        "app:worker",
        {iterations = 1000}
    )
    -- Reutiliza existente (comportamento padrão com ID explícito)
    local reused = process.with_options({["temporal.workflow.id"] = "order-" .. order.id})
        :spawn("app:long_workflow", "app:worker", {iterations = 1})
    -- Falha se o workflow já existe
    local failing = process.with_options({
        ["temporal.workflow.id"] = "order-" .. order.id,
        ["temporal.workflow.id_conflict_policy"] = "fail",
    })
    local _, fail_err = failing:spawn("app:long_workflow", "app:worker", {iterations = 1})
    -- Retorna erro se já iniciado (abordagem alternativa)
    local erroring = process.with_options({
        ["temporal.workflow.id"] = "order-" .. order.id,
        ["temporal.workflow.execution_error_when_already_started"] = true,
    })
    local _, started_err = erroring:spawn("app:long_workflow", "app:worker", {iterations = 1})
    process.send(pid, "stop", "now")
    local event = process.events():receive()
    return {pid = pid, reused = reused == pid, fail_kind = fail_err and fail_err:kind(),
            started_kind = started_err and started_err:kind(), exit = event.result.value}
end

local function start_messages()
    local spawner = process
        .with_options({})
        :with_name("counter-workflow")
        :with_message("increment", {amount = 2})
        :with_message("increment", {amount = 1})
        :with_message("increment", {amount = 4})

    local pid, err = spawner:spawn_monitored(
        "app:counter_workflow",
        "app:worker",
        {initial = 0}
    )
    process.send(pid, "finish")
    local final = process.listen("final"):receive()
    return {final = final, me = process.pid()}
end

local function use_existing()
    -- Primeiro spawn inicia o workflow com mensagens iniciais
    local first = process
        .with_options({})
        :with_name("my-counter")
        :with_message("increment", {amount = 3})

    local pid, err = first:spawn("app:counter_workflow", "app:worker", {initial = 0})

    -- Segundo spawn reutiliza workflow existente e entrega novas mensagens
    local second = process
        .with_options({})
        :with_name("my-counter")
        :with_message("increment", {amount = 2})

    local pid2, err = second:spawn("app:counter_workflow", "app:worker", {initial = 999})
    -- pid2 == pid (mesmo workflow), input {initial = 999} é ignorado
    -- Mas a mensagem increment com amount=2 é entregue
    process.send(pid, "finish")
    local final = process.listen("final"):receive()
    return {same = pid2 == pid, final = final}
end

local function with_context(order)
    local spawner = process.with_context({
        user_id = "user-1",
        tenant = "tenant-1",
        request_id = "req-abc",
    })

    local pid, err = spawner:spawn_monitored(
        "app:context_workflow",
        "app:worker",
        order
    )
    local event = process.events():receive()
    return event.result.value
end

local function handler(req)
    -- "A Partir de Handlers HTTP", with the request as a plain table (there is
    -- no http module in actorflow): 409 on a duplicate, 202 when started.
    local order = req.body

    local spawner = process
        .with_context({request_id = req.headers["X-Request-ID"]})
        :with_options({
            ["temporal.workflow.id"] = "order-" .. order.id,
            ["temporal.workflow.id_conflict_policy"] = "fail",
        })

    local pid, err = spawner:spawn(
        "app:long_workflow",
        "app:worker",
        {iterations = 1000}
    )

    if err then
        return {status = 409, json = {error = tostring(err)}}
    end

    return {status = 202, json = {
        workflow_id = tostring(pid),
        status = "started"
    }}
end

local function http_twice(order)
    local req = {body = order, headers = {["X-Request-ID"] = "r-1"}}
    local first = handler(req)
    local second = handler(req)
    process.send(first.json.workflow_id, "stop", "now")
    return {first = first, second = second}
end

local function post_start_monitor()
    local pid, err = process.spawn(
        "app:long_workflow",
        "app:worker",
        {iterations = 100}
    )

    -- Monitora depois
    local ok, err = process.monitor(pid)

    process.send(pid, "stop", "now")
    local events_ch = process.events()
    local event = events_ch:receive()  -- EXIT quando o workflow completar
    return {ok = ok, kind = event.kind, from = event.from == pid, value = event.result.value}
end

local function post_start_link()
    local ok, err = process.set_options({trap_links = true})

    local pid, err = process.spawn(
        "app:long_workflow",
        "app:worker",
        {iterations = 100}
    )

    -- Vincula após o workflow ter iniciado
    time.sleep("200ms")
    local ok, err = process.link(pid)

    -- Se o workflow for terminado, recebe LINK_DOWN
    process.terminate(pid)

    local events_ch = process.events()
    local event = events_ch:receive()
    -- event.kind == process.event.LINK_DOWN
    return {ok = ok, kind = event.kind, error_kind = event.result.error:kind(),
            message = event.result.error:message()}
end

local function unmonitor_unlink()
    process.set_options({trap_links = true})
    local pid = process.spawn("app:long_workflow", "app:worker", {iterations = 100})
    process.monitor(pid)
    process.link(pid)
    process.unmonitor(pid)  -- para de receber eventos EXIT
    process.unlink(pid)     -- remove vínculo bidirecional
    process.send(pid, "stop", "fail")
    local r = channel.select{process.events():case_receive(), time.after("1500ms"):case_receive()}
    -- The test checks that the workflow did fail inside the window (or nothing could have come).
    return {nothing = r.channel ~= process.events(), pid = pid, window_end = time.now():unix_nano()}
end

local function terminate_monitored()
    local workflow_pid = process.spawn_monitored("app:long_workflow", "app:worker", {iterations = 100})
    local ok, err = process.terminate(workflow_pid)
    local event = process.events():receive()
    return {ok = ok, kind = event.kind, error_kind = event.result.error:kind(), message = event.result.error:message(),
            retryable = event.result.error:retryable()}
end

local function cancel_graceful()
    local workflow_pid = process.spawn_monitored("app:graceful_workflow", "app:worker")
    time.sleep("200ms")
    local ok, err = process.cancel(workflow_pid, "5s")
    local event = process.events():receive()
    return {ok = ok, value = event.result.value, error = event.result.error and tostring(event.result.error)}
end

local function cancel_ignored()
    -- A workflow that never reads its events is terminated when the deadline passes.
    local workflow_pid = process.spawn_monitored("app:long_workflow", "app:worker", {iterations = 1000})
    time.sleep("200ms")
    local started = time.now()
    process.cancel(workflow_pid, "1s")
    local event = process.events():receive()
    return {waited = time.now():sub(started):milliseconds(), error = event.result.error and tostring(event.result.error)}
end

local function linked_failure()
    -- Without trap_links, a linked workflow's failure propagates to the process.
    local pid = process.spawn_linked("app:long_workflow", "app:worker", {iterations = 100})
    process.send(pid, "stop", "fail")
    process.inbox():receive()
end

local modes = {
    spawn_named = spawn_named, explicit_id = explicit_id, start_messages = start_messages,
    use_existing = use_existing, with_context = with_context, http_twice = http_twice,
    post_start_monitor = post_start_monitor, post_start_link = post_start_link,
    unmonitor_unlink = unmonitor_unlink, terminate_monitored = terminate_monitored,
    cancel_graceful = cancel_graceful, cancel_ignored = cancel_ignored, linked_failure = linked_failure,
}

local function main(mode, arg)
    return modes[mode](arg)
end

return {main = main}
