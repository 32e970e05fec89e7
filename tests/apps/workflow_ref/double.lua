return function(x)
    if type(x) ~= "number" then
        return nil, errors.new({kind = errors.INVALID, message = "not a number", retryable = false})
    end
    return x * 2
end
