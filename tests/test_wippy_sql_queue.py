"""sql with db.sql.sqlite (a real SQLite file, transactions, migrations) and queue with consumers."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

import wippy_compat
from actorflow.app import App
from actorflow.pytest_plugin import wait_until
from actors import errors

from .lua_support import HOST, write_app

DB = {"name": "db", "kind": "db.sql.sqlite", "file": "data/app.db", "max_rows": 50}


def main_entry(modules: list[str], **extra: Any) -> dict[str, Any]:
    return {"name": "main", "kind": "process.lua", "source": "file://main.lua", "modules": modules, **extra}


def test_sql_queries_execute_and_transactions_on_a_real_file(tmp_path: Path) -> None:
    write_app(
        tmp_path,
        [HOST, DB, main_entry(["sql"])],
        {
            "main.lua": """
local sql = require("sql")
return function()
  local db, err = sql.get("app:db")
  db:execute("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT NOT NULL, email TEXT, score REAL)")
  local inserted = db:execute("INSERT INTO users (name, email, score) VALUES (?, ?, ?)", {"ada", sql.NULL, 9.5})
  local stmt = db:prepare("INSERT INTO users (name) VALUES (?)")
  stmt:execute({"bob"})
  stmt:close()
  local _, closed = stmt:execute({"carl"})

  local tx = db:begin()
  tx:execute("INSERT INTO users (name) VALUES (?)", {"dora"})
  local inside = tx:query("SELECT COUNT(*) AS n FROM users")[1].n
  local outside = db:query("SELECT COUNT(*) AS n FROM users")[1].n   -- not committed: not seen
  tx:rollback()
  local _, done = tx:commit()

  local tx2 = db:begin()
  tx2:execute("INSERT INTO users (name) VALUES (?)", {"eve"})
  tx2:savepoint("sp1")
  tx2:execute("INSERT INTO users (name) VALUES (?)", {"frank"})
  tx2:rollback_to("sp1")
  local _, badname = tx2:savepoint("no spaces")
  tx2:commit()

  local rows = db:query("SELECT id, name, email, score FROM users ORDER BY id")
  local _, syntax = db:query("SELEC nothing")
  local _, missing = sql.get("app:nope")
  return {inserted.last_insert_id, inserted.rows_affected, closed:kind(), inside, outside, done:kind(),
          rows, syntax:kind(), missing:kind(), badname:kind(), db:type()}
end
"""
        },
    )
    with App(tmp_path, extensions=[wippy_compat.install]) as app:
        value = app.exec("app:main", timeout=15)
    assert value[:6] == [1, 1, "INVALID", 3, 2, "INVALID"]
    assert value[6] == [
        {"id": 1, "name": "ada", "score": 9.5},
        {"id": 2, "name": "bob"},
        {"id": 3, "name": "eve"},
    ]
    assert value[7:] == ["INVALID", "NOT_FOUND", "INVALID", "sqlite"]
    with sqlite3.connect(tmp_path / "data/app.db") as check:  # the real file holds what was committed
        assert check.execute("SELECT name FROM users ORDER BY id").fetchall() == [
            ("ada",),
            ("bob",),
            ("eve",),
        ]


def test_a_query_past_max_rows_fails_instead_of_cutting(tmp_path: Path) -> None:
    write_app(
        tmp_path,
        [HOST, DB, main_entry(["sql"])],
        {
            "main.lua": """
local sql = require("sql")
return function()
  local db = sql.get("app:db")
  db:execute("CREATE TABLE n (v INTEGER)")
  db:execute("WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 60) INSERT INTO n SELECT x FROM c")
  local rows, err = db:query("SELECT v FROM n")
  local fifty = db:query("SELECT v FROM n LIMIT 50")
  return {rows == nil, err:kind(), #fifty}
end
"""
        },
    )
    with App(tmp_path, extensions=[wippy_compat.install]) as app:
        assert app.exec("app:main", timeout=15) == [True, "LIMIT_EXCEEDED", 50]


def test_a_transaction_left_open_by_a_dead_process_is_rolled_back(tmp_path: Path) -> None:
    write_app(
        tmp_path,
        [
            HOST,
            DB,
            main_entry(["sql"]),
            {"name": "crasher", "kind": "process.lua", "source": "file://crasher.lua", "modules": ["sql"]},
        ],
        {
            "main.lua": """
local sql = require("sql")
return function()
  local db = sql.get("app:db")
  db:execute("CREATE TABLE t (v TEXT)")
  local _, crash = process.exec("app:crasher", "app:processes")
  local tx, err = db:begin()                 -- would wait on the crasher's write lock if it were kept
  tx:execute("INSERT INTO t VALUES ('mine')")
  tx:commit()
  local rows = db:query("SELECT v FROM t")
  return {crash ~= nil, #rows, rows[1].v}
end
""",
            "crasher.lua": """
local sql = require("sql")
return function()
  local tx = sql.get("app:db"):begin()
  tx:execute("INSERT INTO t VALUES ('lost')")
  error("crashed inside the transaction")
end
""",
        },
    )
    with App(tmp_path, extensions=[wippy_compat.install]) as app:
        assert app.exec("app:main", timeout=15) == [True, 1, "mine"]


MIGRATION = """\
return require("migration").define(function()
  migration("{description}", function()
    database("sqlite", function()
      up(function(db)
        local _, err = db:execute("{up}")
        if err then error(err) end
      end)
      down(function(db) db:execute("{down}") end)
    end)
    database("postgres", function()
      up(function(db) error("not this one") end)
    end)
  end)
end)
"""


def migration_entry(name: str, timestamp: str) -> dict[str, Any]:
    return {
        "name": name,
        "kind": "function.lua",
        "source": f"file://{name}.lua",
        "meta": {"type": "migration", "target_db": "app:db", "timestamp": timestamp},
        "imports": {"migration": "wippy.migration:migration"},
    }


def test_migrations_run_in_order_once_when_the_app_starts(tmp_path: Path) -> None:
    files = {
        # declared first, runs second: the timestamps order them
        "02_add_email.lua": MIGRATION.format(
            description="Add email", up="ALTER TABLE users ADD COLUMN email TEXT", down="SELECT 1"
        ),
        "01_users.lua": MIGRATION.format(
            description="Create users",
            up="CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT)",
            down="DROP TABLE users",
        ),
        "main.lua": """
local sql = require("sql")
return function()
  local db = sql.get("app:db")
  db:execute("INSERT INTO users (name, email) VALUES ('ada', 'ada@example.com')")
  local applied = db:query("SELECT id, description FROM _migrations ORDER BY applied_at, id")
  return {db:query("SELECT name, email FROM users"), applied}
end
""",
    }
    entries = [
        HOST,
        DB,
        {"name": "dep.migration", "kind": "ns.dependency", "component": "wippy/migration", "version": "*"},
        migration_entry("02_add_email", "2025-01-16T10:00:00Z"),
        migration_entry("01_users", "2025-01-15T10:00:00Z"),
        main_entry(["sql"]),
    ]
    write_app(tmp_path, entries, files)
    with App(tmp_path, extensions=[wippy_compat.install]) as app:
        value = app.exec("app:main", timeout=15)
    assert value[0] == [{"name": "ada", "email": "ada@example.com"}]
    assert sorted(row["id"] for row in value[1]) == ["app:01_users", "app:02_add_email"]
    # a second start applies nothing again (a migration applied twice would fail: the column exists)
    with App(tmp_path, extensions=[wippy_compat.install]), sqlite3.connect(tmp_path / "data/app.db") as check:
        assert check.execute("SELECT COUNT(*) FROM _migrations").fetchone() == (2,)


def test_a_failing_migration_stops_the_start_and_keeps_nothing(tmp_path: Path) -> None:
    files = {
        "01_bad.lua": MIGRATION.format(description="Broken", up="CREATE TABLE x (", down="SELECT 1"),
        "main.lua": "return function() end\n",
    }
    write_app(tmp_path, [HOST, DB, migration_entry("01_bad", "1"), main_entry(["sql"])], files)
    app = App(tmp_path, extensions=[wippy_compat.install])
    with pytest.raises(errors.Error) as info:
        app.start()
    assert "migration app:01_bad on app:db failed" in info.value.message()
    with sqlite3.connect(tmp_path / "data/app.db") as check:
        assert check.execute("SELECT COUNT(*) FROM _migrations").fetchone() == (0,)


QUEUE_ENTRIES = [
    HOST,
    {"name": "driver", "kind": "queue.driver.memory"},
    {
        "name": "jobs",
        "kind": "queue.queue",
        "driver": "driver",
        "driver_options": {"memory": {"max_length": 3}},
    },
    {"name": "results", "kind": "queue.queue", "driver": "driver"},
    {"name": "worker", "kind": "queue.consumer", "queue": "jobs", "func": "handle", "concurrency": 2},
    {"name": "handle", "kind": "function.lua", "source": "file://handle.lua", "modules": ["queue", "sql"]},
    {"name": "collector", "kind": "queue.consumer", "queue": "results", "func": "collect"},
    {"name": "collect", "kind": "function.lua", "source": "file://collect.lua", "modules": ["queue", "sql"]},
    {"name": "db", "kind": "db.sql.sqlite", "file": ":memory:"},
]

QUEUE_FILES = {
    "handle.lua": """
local queue = require("queue")
local sql = require("sql")
return function(job)
  local msg = queue.message()
  local db = sql.get("app:db")
  db:execute("CREATE TABLE IF NOT EXISTS tries (n INTEGER)")
  db:execute("INSERT INTO tries VALUES (?)", {job.n})
  local tries = db:query("SELECT COUNT(*) AS c FROM tries WHERE n = ?", {job.n})[1].c
  if job.fail and tries == 1 then
    return nil, errors.new({kind = errors.INTERNAL, message = "first try fails"})  -- nacked: redelivered
  end
  queue.publish("app:results", {n = job.n, tries = tries}, {priority = msg:header("priority")})
  return true
end
""",
    "collect.lua": """
local queue = require("queue")
local sql = require("sql")
return function(result)
  local db = sql.get("app:db")
  local msg = queue.message()
  db:execute("CREATE TABLE IF NOT EXISTS done (n INTEGER, tries INTEGER, priority TEXT)")
  db:execute("INSERT INTO done VALUES (?, ?, ?)", {result.n, result.tries, msg:header("priority") or sql.NULL})
  local first = msg:ack()
  local second = msg:nack()        -- settlement is single-shot: ignored
  if not first or second then error("settled twice") end
end
""",
    "main.lua": """
local queue = require("queue")
return function()
  local ok = queue.publish("app:jobs", {n = 1}, {priority = "high"})
  queue.publish("app:jobs", {n = 2, fail = true})
  local _, outside = queue.message()
  local _, unknown = queue.publish("app:nope", {n = 0})
  local _, empty = queue.publish("app:jobs", nil)
  return {ok, outside:kind(), unknown:kind(), empty:kind()}
end
""",
}


def test_queue_consumers_call_their_function_per_message_ack_and_redeliver(tmp_path: Path) -> None:
    write_app(tmp_path, [*QUEUE_ENTRIES, main_entry(["queue"])], QUEUE_FILES)
    with App(tmp_path, extensions=[wippy_compat.install]) as app:
        assert app.exec("app:main", timeout=10) == [True, "INVALID", "NOT_FOUND", "INVALID"]
        database = wippy_compat.sql.databases_of(wippy_compat._context._by_node[app.node]).get("app:db")

        def done_rows() -> list[tuple[Any, ...]]:
            with sqlite3.connect(database.target, uri=True) as check:
                try:
                    return sorted(check.execute("SELECT n, tries, priority FROM done").fetchall())
                except sqlite3.OperationalError:  # no table yet
                    return []

        # job 1 goes through at once, its header with it; job 2 fails once, is put back at the
        # end of the queue (the memory driver's nack) and passes on its second try
        rows = wait_until(lambda: len(done_rows()) == 2 and done_rows(), timeout=10)
        assert rows == [(1, 1, "high"), (2, 2, None)]
        queues = wippy_compat.queue.queues_of(wippy_compat._context._by_node[app.node])
        assert queues.info("app:jobs")["message_count"] == 0


def test_a_full_queue_refuses_a_publish(tmp_path: Path) -> None:
    entries = [
        HOST,
        {"name": "driver", "kind": "queue.driver.memory"},
        {
            "name": "jobs",
            "kind": "queue.queue",
            "driver": "driver",
            "driver_options": {"memory": {"max_length": 2}},
        },
        main_entry(["queue"]),
    ]
    files = {
        "main.lua": """
local queue = require("queue")
return function()
  queue.publish("app:jobs", 1)
  queue.publish("app:jobs", 2)
  local _, full = queue.publish("app:jobs", 3)
  return {full:kind(), full:retryable(), queue.info("app:jobs").message_count}
end
"""
    }
    write_app(tmp_path, entries, files)
    with App(tmp_path, extensions=[wippy_compat.install]) as app:
        assert app.exec("app:main", timeout=10) == ["LIMIT_EXCEEDED", True, 2]


def test_a_migration_called_down_reverts_it_and_forgets_it(tmp_path: Path) -> None:
    files = {
        "01_users.lua": MIGRATION.format(
            description="Create users",
            up="CREATE TABLE users (id INTEGER PRIMARY KEY)",
            down="DROP TABLE users",
        ),
        "main.lua": """
local funcs = require("funcs")
local sql = require("sql")
return function()
  local result = funcs.call("app:01_users", {database_id = "app:db", direction = "down", id = "app:01_users"})
  local again = funcs.call("app:01_users", {database_id = "app:db", direction = "down", id = "app:01_users"})
  local tables = sql.get("app:db"):query("SELECT name FROM sqlite_master WHERE name = 'users'")
  local recorded = sql.get("app:db"):query("SELECT COUNT(*) AS n FROM _migrations")[1].n
  return {result.status, result.migrations[1].status, again.migrations[1].status, #tables, recorded}
end
""",
    }
    write_app(tmp_path, [HOST, DB, migration_entry("01_users", "1"), main_entry(["sql", "funcs"])], files)
    with App(tmp_path, extensions=[wippy_compat.install]) as app:
        assert app.exec("app:main", timeout=15) == ["complete", "reverted", "skipped", 0, 0]
