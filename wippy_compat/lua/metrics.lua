-- The metrics module: counters, gauges and histograms of the app (the handlers: wippy_compat/metrics.py).
local api = ...

local metrics = {}

function metrics.counter_inc(name, labels) return api.call("record", "counter_add", name, 1, labels) end
function metrics.counter_add(name, value, labels) return api.call("record", "counter_add", name, value, labels) end
function metrics.gauge_set(name, value, labels) return api.call("record", "gauge_set", name, value, labels) end
function metrics.gauge_inc(name, labels) return api.call("record", "gauge_add", name, 1, labels) end
function metrics.gauge_dec(name, labels) return api.call("record", "gauge_add", name, -1, labels) end
function metrics.histogram(name, value, labels) return api.call("record", "histogram", name, value, labels) end

return metrics
