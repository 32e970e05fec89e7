return function()
    return nil, errors.new({kind = errors.UNAVAILABLE, message = "try again later", retryable = true})
end
