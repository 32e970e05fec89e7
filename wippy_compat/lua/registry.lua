-- The registry module: entries, snapshots, versions, changesets (the handlers: wippy_compat/registry.py).
local api = ...

local registry = {}

local function call(...) return api.call("call", ...) end

local Version, Snapshot, Changes, History = {}, {}, {}, {}
local VersionMeta = {__index = Version, __metatable = false,
                     __tostring = function(v) return "v" .. tostring(v._id) end}
local SnapshotMeta = {__index = Snapshot, __metatable = false}
local ChangesMeta = {__index = Changes, __metatable = false}
local HistoryMeta = {__index = History, __metatable = false}

local function new_version(id) return setmetatable({_id = id}, VersionMeta) end

function Version:id() return self._id end
function Version:string() return "v" .. tostring(self._id) end
function Version:previous()
  local versions = call("versions")
  local previous
  for _, id in ipairs(versions) do if id < self._id then previous = id end end
  return previous and new_version(previous) or nil
end
function Version:next()
  for _, id in ipairs(call("versions")) do if id > self._id then return new_version(id) end end
  return nil
end

function registry.parse_id(id)
  if type(id) ~= "string" then error("registry.parse_id: expected a string", 2) end
  local colon = string.find(id, ":", 1, true)
  if colon == nil then return {ns = "", name = id} end
  return {ns = string.sub(id, 1, colon - 1), name = string.sub(id, colon + 1)}
end

function registry.get(id) return call("get", nil, id) end
function registry.find(filter) return call("find", nil, filter) end

local function new_snapshot(version) return setmetatable({_version = version}, SnapshotMeta) end

function registry.snapshot()
  local version, err = call("snapshot", nil)
  if version == nil then return nil, err end
  return new_snapshot(version)
end
function registry.snapshot_at(id)
  local version, err = call("snapshot", id)
  if version == nil then return nil, err end
  return new_snapshot(version)
end
function registry.current_version()
  local id, err = call("current_version")
  if id == nil then return nil, err end
  return new_version(id)
end
function registry.versions()
  local ids, err = call("versions")
  if ids == nil then return nil, err end
  local list = {}
  for i, id in ipairs(ids) do list[i] = new_version(id) end
  return list
end
function registry.apply_version(version)
  if getmetatable(version) ~= false or type(version) ~= "table" or version._id == nil then
    return false, errors.new({kind = errors.INVALID, message = "registry.apply_version: expected a Version"})
  end
  return call("apply_version", version._id)
end
function registry.build_delta(from, to) return call("build_delta", from, to) end
function registry.history() return setmetatable({}, HistoryMeta) end

function History:versions() return registry.versions() end
function History:get_version(id)
  for _, known in ipairs(call("versions")) do
    if known == id then return new_version(id) end
  end
  return nil, errors.new({kind = errors.NOT_FOUND, message = "registry version " .. tostring(id) .. " not found"})
end
function History:snapshot_at(version)
  local id = type(version) == "table" and version._id or version
  return registry.snapshot_at(id)
end

function Snapshot:entries() return call("entries", self._version) end
function Snapshot:get(id) return call("get", self._version, id) end
function Snapshot:find(filter) return (call("find", self._version, filter)) end
function Snapshot:namespace(ns) return (call("namespace", self._version, ns)) end
function Snapshot:version() return new_version(self._version) end
function Snapshot:changes() return setmetatable({_base = self._version, _ops = {}}, ChangesMeta) end

local function add(self, kind, entry)
  local ops = rawget(self, "_ops")
  ops[#ops + 1] = {kind = kind, entry = entry}
  return self
end
function Changes:create(entry) return add(self, "entry.create", entry) end
function Changes:update(entry) return add(self, "entry.update", entry) end
-- One ID: "ns:name", {ns = , name = } (what parse_id gives) or an entry; nil for anything else.
local function entry_id(id)
  if type(id) ~= "table" then return id end
  if id.id ~= nil then return id.id end
  if id.ns ~= nil then return id.ns .. ":" .. tostring(id.name) end
  return nil
end
function Changes:delete(id)
  local one = entry_id(id)
  if one ~= nil then return add(self, "entry.delete", one) end
  if type(id) ~= "table" then error("changes:delete: expected an entry ID, an entry or a list of them", 2) end
  -- A list of IDs or entries, one level deep: a list inside it (or the list itself) is refused,
  -- so a cyclic table is an error at the caller's line, not a stack overflow.
  for i, item in ipairs(id) do
    local item_id = entry_id(item)
    if item_id == nil then
      error("changes:delete: item " .. i .. " is not an entry ID or an entry (a list of lists is not one)", 2)
    end
    add(self, "entry.delete", item_id)
  end
  return self
end
function Changes:ops() return self._ops end
function Changes:apply()
  local id, err = call("apply", self._base, self._ops)
  if id == nil then return nil, err end
  return new_version(id)
end

api.methods(Version, VersionMeta, "version")
api.methods(Snapshot, SnapshotMeta, "snapshot")
api.methods(Changes, ChangesMeta, "changeset")
api.methods(History, HistoryMeta, "history")

return registry
