-- A counter for "Mensagens de Inicialização": sums increments until "finish".
local function main(input)
    local counter = input.initial or 0
    local increments = process.listen("increment", {message = true})
    local finish = process.listen("finish", {message = true})
    local seen = {}
    while true do
        local r = channel.select{increments:case_receive(), finish:case_receive()}
        if r.channel == finish then
            process.send(r.value:from(), "final", {counter = counter, seen = seen})
            return {counter = counter, seen = seen}
        end
        local msg = r.value
        counter = counter + msg:payload():data().amount
        table.insert(seen, {amount = msg:payload():data().amount, from = msg:from()})
    end
end

return {main = main}
