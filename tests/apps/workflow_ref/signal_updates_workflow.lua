-- Wippy's own test workflow (wippyai/runtime, tests/app/src/test/temporal/workflows/
-- signal_updates_workflow.lua), as Wippy writes it: signals as update-like requests.

local function main(input)
	local counter = input.initial or 0
	local processed_updates = {}
	local done = false

	coroutine.spawn(function()
		local ch = process.listen("increment", {message = true})
		while not done do
			local msg, ok = ch:receive()
			if not ok then
				break
			end

			local p = msg:payload()
			local data = p and p:data() or nil
			local reply_to = msg:from()

			if type(data) ~= "table" or type(data.amount) ~= "number" then
				process.send(reply_to, "nak", "amount must be a number")
			else
				process.send(reply_to, "ack")
				counter = counter + data.amount
				table.insert(processed_updates, {
					type = "increment",
					amount = data.amount,
					new_value = counter
				})
				process.send(reply_to, "ok", {value = counter})
			end
		end
	end)

	local finish_ch = process.listen("finish", {message = true})
	local msg, ok = finish_ch:receive()
	if ok then
		local reply_to = msg:from()  -- Wippy writes string(msg:from()), a typed-Lua cast
		process.send(reply_to, "ack")
		process.send(reply_to, "ok", {message = "finishing"})
	end
	done = true

	return {
		final_counter = counter,
		updates_processed = #processed_updates,
		history = processed_updates
	}
end

return main
