-- The sql module: databases, statements, transactions (the handlers: wippy_compat/sql.py).
-- Every statement waits on the database's thread while other processes run.
local api = ...

local sql = {
  type = {POSTGRES = "postgres", MYSQL = "mysql", SQLITE = "sqlite", UNKNOWN = "unknown"},
  isolation = {DEFAULT = "default", READ_UNCOMMITTED = "read_uncommitted", READ_COMMITTED = "read_committed",
               WRITE_COMMITTED = "write_committed", REPEATABLE_READ = "repeatable_read",
               SERIALIZABLE = "serializable"},
  as = {},
}

-- SQL NULL: a value that crosses to the database as nil, kept in a parameter table
-- (a function: it converts to nil, and a table holding it keeps its length).
sql.NULL = function() return nil end
function sql.as.null() return sql.NULL end
for _, kind in ipairs({"int", "float", "text", "binary"}) do
  sql.as[kind] = function(value) return {_sql_type = kind, value = value} end
end

local DB, Tx, Statement = {}, {}, {}
local DBMeta = {__index = DB, __metatable = false}
local TxMeta = {__index = Tx, __metatable = false}
local StatementMeta = {__index = Statement, __metatable = false}

function sql.get(id)
  local ok, err = api.call("call", "get", id)
  if not ok then return nil, err end
  return setmetatable({_db = id}, DBMeta)
end

local function wait(what, handle, ...) return api.call("wait", what, handle._db, handle._tx, ...) end

function DB:type() return sql.type.SQLITE end
function DB:query(statement, params) return wait("query", self, statement, params) end
function DB:execute(statement, params) return wait("execute", self, statement, params) end
function DB:release() return true end
function DB:stats() return api.call("call", "stats", self._db) end
function DB:begin(options)
  local token, err = wait("begin", self, options)
  if token == nil then return nil, err end
  return setmetatable({_db = self._db, _tx = token}, TxMeta)
end

local function prepare(handle, statement)
  if type(statement) ~= "string" or statement == "" then
    return nil, api.new_error(errors.INVALID, "sql: prepare needs an SQL statement")
  end
  return setmetatable({_db = handle._db, _tx = handle._tx, _sql = statement}, StatementMeta)
end
DB.prepare = prepare
Tx.prepare = prepare

function Tx:db_type() return sql.type.SQLITE end
function Tx:query(statement, params) return wait("query", self, statement, params) end
function Tx:execute(statement, params) return wait("execute", self, statement, params) end
function Tx:commit() return wait("commit", self) end
function Tx:rollback() return wait("rollback", self) end
function Tx:savepoint(name) return wait("savepoint", self, name) end
function Tx:rollback_to(name) return wait("rollback_to", self, name) end
function Tx:release(name) return wait("release", self, name) end

function Statement:query(params)
  if self._closed then return nil, api.new_error(errors.INVALID, "sql: the statement is closed") end
  return wait("query", self, self._sql, params)
end
function Statement:execute(params)
  if self._closed then return nil, api.new_error(errors.INVALID, "sql: the statement is closed") end
  return wait("execute", self, self._sql, params)
end
function Statement:close()
  rawset(self, "_closed", true)
  return true
end

api.methods(DB, DBMeta, "database")
api.methods(Tx, TxMeta, "transaction")
api.methods(Statement, StatementMeta, "statement")

return sql
