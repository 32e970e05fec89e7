return function(order)
    if order.missing then
        return nil, errors.new({kind = errors.NOT_FOUND, message = "no order " .. order.id, retryable = false})
    end
    return {ok = order.id}
end
