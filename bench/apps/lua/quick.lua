-- Starts, tells the observer, ends.
return function(observer) process.send(observer, "up") end
