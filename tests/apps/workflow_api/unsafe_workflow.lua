-- "Não-Determinístico (Evitar)": refused with the call and the line.
local function main(what)
    if what == "io" then
        local file = io.open("data.txt")   -- não-determinístico
        return file
    end
    if what == "clock" then
        local started = os.clock()
        return started
    end
    -- mutable global state is per run: replays see the same value
    counter = (counter or 0) + 1
    return counter
end

return {main = main}
