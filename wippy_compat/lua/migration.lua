-- wippy.migration:migration, the library Wippy's migration entries import (en/framework/migration.md):
--   return require("migration").define(function()
--     migration("Create users", function()
--       database("sqlite", function()
--         up(function(db) ... end)     -- db is a transaction: all of up, the record and after commit together
--         down(function(db) ... end)
--       end)
--     end)
--   end)
-- define() returns the entry's function; called with {database_id, direction ("up"|"down"), id}
-- it applies (or reverts) what is pending and records it in the _migrations table.
local sql = require("sql")

local M = {}

local DSL = {"migration", "database", "up", "down", "after"}

-- Run the definition with the DSL's functions as globals of the calling process, and
-- return what it declared: {description, databases = {sqlite = {up, down, after}}}.
local function declared(fn)
  local migrations, current, implementation = {}, nil, nil
  local functions = {
    migration = function(description, body)
      current = {description = tostring(description), databases = {}}
      migrations[#migrations + 1] = current
      body()
      current = nil
    end,
    database = function(kind, body)
      if current == nil then error("database() belongs inside migration()", 2) end
      implementation = {}
      current.databases[kind] = implementation
      body()
      implementation = nil
    end,
  }
  for _, step in ipairs({"up", "down", "after"}) do
    functions[step] = function(f)
      if implementation == nil then error(step .. "() belongs inside database()", 2) end
      implementation[step] = f
    end
  end
  local saved = {}
  for _, name in ipairs(DSL) do
    saved[name] = rawget(_G, name)
    _G[name] = functions[name]
  end
  local ok, err = pcall(fn)
  for _, name in ipairs(DSL) do _G[name] = saved[name] end
  if not ok then error(err, 0) end
  return migrations
end

local TRACKING = "CREATE TABLE IF NOT EXISTS _migrations ("
  .. "id TEXT PRIMARY KEY, description TEXT NOT NULL, applied_at INTEGER NOT NULL)"

local function apply(db, migration, implementation, key, direction)
  local step = implementation[direction]
  if step == nil then
    return {status = "error", description = migration.description, error = "no '" .. direction .. "' for this database"}
  end
  local tx, err = db:begin()
  if tx == nil then return {status = "error", description = migration.description, error = tostring(err)} end
  local rows, query_err = tx:query("SELECT id FROM _migrations WHERE id = ?", {key})
  if rows == nil then
    tx:rollback()
    return {status = "error", description = migration.description, error = tostring(query_err)}
  end
  local applied = #rows > 0
  if (direction == "up" and applied) or (direction == "down" and not applied) then
    tx:rollback()
    return {status = "skipped", description = migration.description,
            reason = applied and "already applied" or "not applied"}
  end
  local ok, step_err = pcall(step, tx)
  if ok and direction == "up" then
    local _, record_err = tx:execute("INSERT INTO _migrations (id, description, applied_at) VALUES (?, ?, ?)",
                                     {key, migration.description, os.time()})
    if record_err then ok, step_err = false, record_err end
    if ok and implementation.after then ok, step_err = pcall(implementation.after, tx) end
  elseif ok then
    local _, remove_err = tx:execute("DELETE FROM _migrations WHERE id = ?", {key})
    if remove_err then ok, step_err = false, remove_err end
  end
  if not ok then
    tx:rollback()
    return {status = "error", description = migration.description, error = tostring(step_err)}
  end
  local committed, commit_err = tx:commit()
  if not committed then return {status = "error", description = migration.description, error = tostring(commit_err)} end
  return {status = direction == "up" and "applied" or "reverted", description = migration.description}
end

function M.run(fn, options)
  options = options or {}
  local direction = options.direction or "up"
  if direction ~= "up" and direction ~= "down" then
    return {status = "error", error = "direction must be up or down"}
  end
  if type(options.id) ~= "string" then return {status = "error", error = "the migration's id is required"} end
  local db, err = sql.get(options.database_id)
  if db == nil then return {status = "error", error = "cannot get the database: " .. tostring(err)} end
  local _, init_err = db:execute(TRACKING)
  if init_err then return {status = "error", error = "cannot create _migrations: " .. tostring(init_err)} end
  local ok, migrations = pcall(declared, fn)
  if not ok then return {status = "error", error = "the definition failed: " .. tostring(migrations)} end
  local results = {status = "complete", total = #migrations, applied = 0, skipped = 0, failed = 0, migrations = {}}
  for index, migration in ipairs(migrations) do
    local implementation = migration.databases[db:type()]
    local result
    if implementation == nil then
      result = {status = "skipped", description = migration.description, reason = "no implementation for sqlite"}
    else
      local key = index == 1 and options.id or (options.id .. "#" .. index)
      result = apply(db, migration, implementation, key, direction)
    end
    results.migrations[index] = result
    if result.status == "error" then
      results.failed = results.failed + 1
      results.status = "error"
      results.error = result.error
      break
    elseif result.status == "skipped" then
      results.skipped = results.skipped + 1
    else
      results.applied = results.applied + 1
    end
  end
  return results
end

function M.define(fn)
  if type(fn) ~= "function" then error("migration.define: the definition must be a function", 2) end
  return function(options) return M.run(fn, options) end
end

return M
