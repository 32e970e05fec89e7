-- The text module: RE2 regular expressions, diffs and patches, document splitters
-- (the handlers: actors/lua/lib/textproc.py).
local api = ...

local text = {regexp = {}, diff = {}, splitter = {}}

-- Objects of this module keep their state in plain fields; their methods are
-- reached through a metatable user code cannot get at (processes share it).
local function class(methods)
  return {__index = methods, __metatable = false}
end

local Regexp = {}
local RegexpMeta = class(Regexp)

function text.regexp.compile(pattern)
  if type(pattern) ~= "string" then
    return nil, api.new_error(errors.INVALID, "text.regexp.compile: expected a pattern string")
  end
  local ok, err = api.call("re_compile", pattern)
  if not ok then return nil, err end
  return setmetatable({_pattern = pattern}, RegexpMeta)
end

local function string_method(name)
  return function(self, s, extra)
    if type(s) ~= "string" then error("re:" .. name .. ": expected a string", 2) end
    local value, err = api.call("re", name, self._pattern, s, extra)
    if err ~= nil then error(err, 2) end
    return value
  end
end

for _, name in ipairs({"match_string", "find_string", "find_all_string", "find_string_submatch",
                       "find_all_string_submatch", "find_string_index", "find_all_string_index",
                       "replace_all_string", "split"}) do
  Regexp[name] = string_method(name)
end
function Regexp:num_subexp() return (api.call("re", "num_subexp", self._pattern)) end
function Regexp:subexp_names() return (api.call("re", "subexp_names", self._pattern)) end
function Regexp:string() return self._pattern end

local Differ = {}
local DifferMeta = class(Differ)

function text.diff.new(options)
  if options ~= nil and type(options) ~= "table" then
    return nil, api.new_error(errors.INVALID, "text.diff.new: options must be a table")
  end
  local ok, err = api.call("diff", "check", options)
  if not ok then return nil, err end
  return setmetatable({_options = options}, DifferMeta)
end

function Differ:compare(a, b) return api.call("diff", "compare", self._options, a, b) end
function Differ:summarize(diffs) return (api.call("diff", "summarize", self._options, diffs)) end
function Differ:pretty_text(diffs) return api.call("diff", "pretty_text", self._options, diffs) end
function Differ:pretty_html(diffs) return api.call("diff", "pretty_html", self._options, diffs) end
function Differ:patch_make(a, b) return api.call("diff", "patch_make", self._options, a, b) end
function Differ:patch_apply(patches, s)
  local result, ok = api.call("diff", "patch_apply", self._options, patches, s)
  if result == nil then return nil, ok end
  return result, ok
end

local Splitter = {}
local SplitterMeta = class(Splitter)

local function new_splitter(options, markdown)
  if options ~= nil and type(options) ~= "table" then
    return nil, api.new_error(errors.INVALID, "text.splitter: options must be a table")
  end
  local ok, err = api.call("splitter", "check", options, markdown)
  if not ok then return nil, err end
  return setmetatable({_options = options, _markdown = markdown}, SplitterMeta)
end

function text.splitter.recursive(options) return new_splitter(options, false) end
function text.splitter.markdown(options) return new_splitter(options, true) end
function Splitter:split_text(s) return api.call("splitter", "split_text", self._options, self._markdown, s) end
function Splitter:split_batch(pages) return api.call("splitter", "split_batch", self._options, self._markdown, pages) end

api.methods(Regexp, RegexpMeta, "regexp")
api.methods(Differ, DifferMeta, "differ")
api.methods(Splitter, SplitterMeta, "splitter")

return text
