-- Waits for a message that never comes.
return function() process.inbox():receive() end
