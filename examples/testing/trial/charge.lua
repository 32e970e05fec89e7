-- The payment provider, as far as this example goes: a receipt per charge.
return function(bill)
    return {id = string.format("rcpt-%s-%d", bill.customer, bill.amount)}
end
