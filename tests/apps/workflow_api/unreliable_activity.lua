return function(order)
    local nothing = nil
    return nothing.field   -- a runtime error in the activity
end
