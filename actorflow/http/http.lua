-- The http module: the request an HTTP handler serves and the response it builds
-- (Wippy's http module; the operations are in actorflow/http/module.py).
--
-- This file runs once per Lua state and its functions are shared by every
-- process of the state: nothing here may keep one process's data. A request
-- object is the calling process's own table; a response object holds nothing
-- (every call goes to the process's exchange, found by its PID).
local api = ...

local http = {}

http.METHOD = {
  GET = "GET", POST = "POST", PUT = "PUT", DELETE = "DELETE", PATCH = "PATCH", HEAD = "HEAD",
  OPTIONS = "OPTIONS",
}
http.STATUS = {
  OK = 200, CREATED = 201, ACCEPTED = 202, NO_CONTENT = 204, PARTIAL_CONTENT = 206,
  MOVED_PERMANENTLY = 301, FOUND = 302, SEE_OTHER = 303, NOT_MODIFIED = 304, TEMPORARY_REDIRECT = 307,
  PERMANENT_REDIRECT = 308,
  BAD_REQUEST = 400, UNAUTHORIZED = 401, PAYMENT_REQUIRED = 402, FORBIDDEN = 403, NOT_FOUND = 404,
  METHOD_NOT_ALLOWED = 405, NOT_ACCEPTABLE = 406, CONFLICT = 409, GONE = 410, UNPROCESSABLE = 422,
  TOO_MANY_REQUESTS = 429,
  INTERNAL_ERROR = 500, INTERNAL_SERVER_ERROR = 500, NOT_IMPLEMENTED = 501, BAD_GATEWAY = 502,
  SERVICE_UNAVAILABLE = 503, GATEWAY_TIMEOUT = 504, VERSION_NOT_SUPPORTED = 505,
}
http.CONTENT = {
  JSON = "application/json", FORM = "application/x-www-form-urlencoded", MULTIPART = "multipart/form-data",
  TEXT = "text/plain", STREAM = "application/octet-stream",
}
http.TRANSFER = {CHUNKED = "chunked", SSE = "sse"}
http.ERROR = {
  PARSE_FAILED = "PARSE_FAILED", INVALID_STATE = "INVALID_STATE", WRITE_FAILED = "WRITE_FAILED",
  STREAM_ERROR = "STREAM_ERROR",
}

-- -- the request ----------------------------------------------------------------------------

local Request = {}
local request_meta = {__index = Request, __metatable = false}

local function lower(name)
  if type(name) ~= "string" then return nil end
  return string.lower(name)
end

function Request:method() return self._method end
function Request:path() return self._path end
function Request:host() return self._host end
function Request:remote_addr() return self._remote_addr end
function Request:content_type() return self._headers["content-type"] end
function Request:content_length() return #self._body end
function Request:has_body() return #self._body > 0 end
function Request:body() return self._body end
function Request:param(name) return self._params[name] end
function Request:query(name) return self._query_first[name] end
function Request:header(name) return self._headers[lower(name)] end

local function copy(source)
  local result = {}
  for key, value in pairs(source) do result[key] = value end
  return result
end

function Request:params() return copy(self._params) end
function Request:query_params() return copy(self._query) end
function Request:headers() return copy(self._headers) end

function Request:body_json()
  if #self._body == 0 then return nil, api.new_error(errors.INVALID, "request body is empty") end
  return api.call("decode_json", self._body)
end

local function media_type(value)
  if type(value) ~= "string" then return "" end
  return string.lower((string.gsub(string.match(value, "^[^;]*") or "", "%s", "")))
end

function Request:is_content_type(wanted)
  return media_type(self._headers["content-type"]) == media_type(wanted)
end

function Request:accepts(wanted)
  local accept = self._headers["accept"]
  if accept == nil or accept == "" then return true end
  local kind = media_type(wanted)
  local major = string.match(kind, "^[^/]*")
  for part in string.gmatch(accept, "[^,]+") do
    local item = media_type(part)
    if item == "*/*" or item == kind or item == major .. "/*" then return true end
  end
  return false
end

-- The body, read in chunks (it was read in full before the handler started).
local Stream = {}
local stream_meta = {__index = Stream, __metatable = false}

function Stream:read(size)
  if self._closed then return nil, api.new_error(errors.INVALID, "stream is closed") end
  local body = self._body
  if self._at > #body then return nil end
  if size == nil or size <= 0 then size = #body end
  local chunk = string.sub(body, self._at, self._at + size - 1)
  self._at = self._at + #chunk
  return chunk
end

function Stream:close() self._closed = true return true end

function Request:stream()
  return setmetatable({_body = self._body, _at = 1, _closed = false}, stream_meta)
end

function Request:parse_multipart()
  return nil, api.new_error(errors.INVALID, "parse_multipart is not supported by actorflow")
end

function http.request(options)
  local data, err = api.call("request")
  if err then return nil, err end
  data._params = data._params or {}
  return setmetatable(data, request_meta)
end

-- -- the response ---------------------------------------------------------------------------

local Response = {}
local response_meta = {__index = Response, __metatable = false}

-- Wippy's methods: nothing, or an error (headers already sent, a value that is not JSON, ...).
function Response:set_status(code) return (select(2, api.call("set_status", code))) end
function Response:set_header(name, value) return (select(2, api.call("set_header", name, value))) end
function Response:set_content_type(value) return (select(2, api.call("set_content_type", value))) end
function Response:set_transfer(mode) return (select(2, api.call("set_transfer", mode))) end
function Response:write(data) return (select(2, api.call("write", data))) end
function Response:write_json(value) return (select(2, api.call("write_json", value))) end
function Response:write_event(event) return (select(2, api.call("write_event", event))) end
function Response:flush() return (select(2, api.call("flush"))) end

-- The chained form seed 003 returns from its handler:
--   return http.response():status(202):json({workflow_id = ...})
local function chained(ok, err)
  if err then error(err, 3) end
end

function Response:status(code) chained(api.call("set_status", code)) return self end
function Response:header(name, value) chained(api.call("set_header", name, value)) return self end
function Response:content_type(value) chained(api.call("set_content_type", value)) return self end
function Response:json(value) chained(api.call("write_json", value)) return self end
function Response:text(value)
  chained(api.call("set_content_type", "text/plain; charset=utf-8"))
  chained(api.call("write", value))
  return self
end
function Response:body(value) chained(api.call("write", value)) return self end

function http.response()
  local ok, err = api.call("response")
  if err then return nil, err end
  return setmetatable({}, response_meta)
end

return http
