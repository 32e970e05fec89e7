"""The ``sql`` module and ``db.sql.sqlite`` (``en/lua/storage/sql.md``): a real SQLite file.

``sql.get("app:db")`` gives a handle; ``db:query`` returns rows (tables of
column → value), ``db:execute`` ``{last_insert_id, rows_affected}``,
``db:prepare`` a statement, ``db:begin`` a transaction with ``query``,
``execute``, ``prepare``, savepoints, ``commit`` and ``rollback``.

Every call waits without holding the host: SQL runs on the database's own
thread (one connection for plain calls) or on the transaction's (a
connection of its own, so a transaction sees its own writes and SQLite's
locking applies), and the calling coroutine is woken with the result.  A
transaction belongs to the process that began it; one left open by a
process that ended is rolled back.

Limits: a query returns at most ``max_rows`` rows (10,000 unless the entry
says otherwise), or fails with ``LIMIT_EXCEEDED`` (never a silent cut); a
database has at most :data:`MAX_TRANSACTIONS` open transactions.  The
``file`` is relative to the app directory (``:memory:`` for a database in
memory); its directory is created if missing.

Each database is a unit of the app (:mod:`._units`): it opens its file and
applies its pending migrations (:mod:`.migrations`) when the app starts,
after the host the migrations run on, and closes when it stops (rolling
back what is still open); ``sql.get`` on one that is not running answers
``UNAVAILABLE``.
"""

from __future__ import annotations

import logging
import queue as queue_module
import re
import secrets
import sqlite3
import threading
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from actors import errors
from actors.entries import Entry, KindSpec, Registry, check_lifecycle, register_kind
from actors.lua import Caller, register_module
from actors.pid import PID
from wippy_compat._context import AppResources, caller_pid, resources_of
from wippy_compat._units import ContextUnit, EntryUnit

if TYPE_CHECKING:
    from actorflow.app import App

__all__ = [
    "DEFAULT_MAX_ROWS",
    "MAX_TRANSACTIONS",
    "Database",
    "DatabaseUnit",
    "Databases",
    "database_units",
    "databases_of",
]

DEFAULT_MAX_ROWS = 10_000
MAX_TRANSACTIONS = 64
"""The most transactions open at once on one database."""
BUSY_TIMEOUT = 5.0
"""Seconds a statement waits for another connection's lock before ``UNAVAILABLE``."""
SWEEP_EVERY = 1.0
"""Seconds between checks for transactions whose process ended."""

logger = logging.getLogger("wippy_compat.sql")

_SAVEPOINT = re.compile(r"[A-Za-z0-9_]+")


class _Thread:
    """One thread and one connection: everything done on a connection is done here, in order."""

    def __init__(self, name: str, connect: Callable[[], sqlite3.Connection]) -> None:
        self._jobs: queue_module.SimpleQueue[Any] = queue_module.SimpleQueue()
        self.connection: sqlite3.Connection | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(connect,), name=name, daemon=True)
        self._thread.start()
        self._ready.wait()
        if self._error is not None:
            raise _error(self._error)

    def _run(self, connect: Callable[[], sqlite3.Connection]) -> None:
        try:
            self.connection = connect()
        except BaseException as exc:
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        while True:
            job = self._jobs.get()
            if job is None:
                break
            job(self.connection)
        self.connection.close()

    def submit(self, job: Callable[[sqlite3.Connection], None]) -> None:
        self._jobs.put(job)

    def call(self, work: Callable[[sqlite3.Connection], Any]) -> Any:
        """Run ``work`` on this thread and wait for it (start and stop only, never from a worker)."""
        done = threading.Event()
        box: list[Any] = []

        def job(connection: sqlite3.Connection) -> None:
            try:
                box.append((True, work(connection)))
            except BaseException as exc:
                box.append((False, exc))
            done.set()

        self.submit(job)
        done.wait()
        ok, value = box[0]
        if not ok:
            raise value
        return value

    def close(self) -> None:
        self._jobs.put(None)
        self._thread.join(timeout=10)


def _error(exc: BaseException) -> errors.Error:
    """An SQLite failure as the page's error kinds."""
    if isinstance(exc, errors.Error):
        return exc
    message = str(exc)
    if isinstance(exc, sqlite3.OperationalError) and ("locked" in message or "busy" in message):
        return errors.Error(errors.UNAVAILABLE, f"sql: {message}", retryable=True)
    if isinstance(exc, (sqlite3.OperationalError, sqlite3.ProgrammingError, sqlite3.IntegrityError)):
        return errors.Error(errors.INVALID, f"sql: {message}")
    return errors.Error(errors.INTERNAL, f"sql: {type(exc).__name__}: {message}")


def _parameter(value: Any) -> Any:
    if isinstance(value, dict) and "_sql_type" in value:  # sql.as.*
        kind = value["_sql_type"]
        inner = value.get("value")
        try:
            if kind == "null":
                return None
            if kind == "int":
                return int(inner)
            if kind == "float":
                return float(inner)
            if kind == "text":
                return (
                    inner
                    if isinstance(inner, str)
                    else bytes(inner).decode()
                    if isinstance(inner, bytes)
                    else str(inner)
                )
            if kind == "binary":
                return inner if isinstance(inner, bytes) else str(inner).encode()
        except (TypeError, ValueError) as exc:
            raise errors.Error(errors.INVALID, f"sql.as.{kind}: {exc}") from None
    if value is None or isinstance(value, (int, float, str, bytes)):
        return value
    raise errors.Error(
        errors.INVALID,
        f"sql: a parameter cannot be a {type(value).__name__} (use strings, numbers, booleans)",
    )


def _parameters(params: Any) -> list[Any]:
    """Lua's parameter table as a list (a table with holes arrives as a dict of indexes)."""
    if params is None:
        return []
    if isinstance(params, list):
        return [_parameter(value) for value in params]
    if isinstance(params, dict):
        if not params:
            return []
        if all(isinstance(key, int) and key >= 1 for key in params):
            return [_parameter(params.get(index)) for index in range(1, max(params) + 1)]
        if "_sql_type" in params:
            return [_parameter(params)]
    raise errors.Error(errors.INVALID, "sql: params must be an array of values")


class Database:
    """One ``db.sql.sqlite`` entry: its file, its shared connection, its transactions."""

    def __init__(self, entry: Entry, root: Path, node: Any) -> None:
        self.id = entry.id
        self.node = node
        self.max_rows = int(entry.get("max_rows") or DEFAULT_MAX_ROWS)
        file = str(entry.get("file") or ":memory:")
        if file == ":memory:":
            self.target = f"file:wippy-{secrets.token_hex(8)}?mode=memory&cache=shared"
            self.uri = True
        else:
            path = Path(file)
            path = path if path.is_absolute() else root / path
            path.parent.mkdir(parents=True, exist_ok=True)
            self.target = str(path)
            self.uri = False
        self._lock = threading.Lock()
        self._transactions: dict[str, tuple[PID, _Thread]] = {}
        self._closed = False
        self._shared = _Thread(f"sql-{self.id}", self._connect)
        self._sweeper = threading.Timer(SWEEP_EVERY, self._sweep)
        self._sweeper.daemon = True
        self._sweeper.start()

    def _connect(self) -> sqlite3.Connection:
        connection = sqlite3.connect(self.target, uri=self.uri, timeout=BUSY_TIMEOUT, isolation_level=None)
        connection.execute("PRAGMA foreign_keys = ON")
        if not self.uri:
            connection.execute("PRAGMA journal_mode = WAL")
        return connection

    # -- running statements ------------------------------------------------------------------

    def run(
        self, tx: str | None, pid: PID, work: Callable[[sqlite3.Connection], Any], done: Callable[..., None]
    ) -> None:
        """Run ``work`` on the shared connection, or on transaction ``tx`` (which ``pid`` must own)."""
        if self._closed:
            raise errors.Error(errors.UNAVAILABLE, f"database {self.id} is closed")
        thread = self._shared if tx is None else self._owned(tx, pid)[1]

        def job(connection: sqlite3.Connection) -> None:
            try:
                value = work(connection)
            except BaseException as exc:
                done(None, _error(exc))
                return
            done(value, None)

        thread.submit(job)

    def _owned(self, tx: str, pid: PID) -> tuple[PID, _Thread]:
        with self._lock:
            found = self._transactions.get(tx)
        if found is None:
            raise errors.Error(
                errors.INVALID, "sql: the transaction is not active (committed, rolled back or unknown)"
            )
        if found[0] != pid:
            raise errors.Error(errors.PERMISSION_DENIED, "sql: the transaction belongs to another process")
        return found

    def query(self, sql: Any, params: Any) -> Callable[[sqlite3.Connection], Any]:
        text, values = _statement(sql), _parameters(params)
        limit = self.max_rows

        def work(connection: sqlite3.Connection) -> list[dict[str, Any]]:
            cursor = connection.execute(text, values)
            names = [column[0] for column in cursor.description or ()]
            rows = cursor.fetchmany(limit + 1)
            if len(rows) > limit:
                cursor.close()
                raise errors.Error(
                    errors.LIMIT_EXCEEDED,
                    f"sql: the query returns more than {limit} rows (max_rows of {self.id}): add a LIMIT",
                )
            return [
                {name: value for name, value in zip(names, row, strict=False) if value is not None}
                for row in rows
            ]

        return work

    def execute(self, sql: Any, params: Any) -> Callable[[sqlite3.Connection], Any]:
        text, values = _statement(sql), _parameters(params)

        def work(connection: sqlite3.Connection) -> dict[str, Any]:
            cursor = connection.execute(text, values)
            cursor.fetchmany(1)  # a statement that returns rows still runs to its first
            return {"last_insert_id": cursor.lastrowid or 0, "rows_affected": max(cursor.rowcount, 0)}

        return work

    # -- transactions --------------------------------------------------------------------------

    def begin(self, pid: PID, options: Any, done: Callable[..., None]) -> None:
        """Open a transaction for ``pid`` on a connection of its own; ``done(token, err)``."""
        read_only = isinstance(options, dict) and options.get("read_only") is True
        self._sweep_now()
        with self._lock:
            if len(self._transactions) >= MAX_TRANSACTIONS:
                raise errors.Error(
                    errors.LIMIT_EXCEEDED, f"sql: {self.id} has {MAX_TRANSACTIONS} open transactions already"
                )
            token = secrets.token_hex(12)
            thread = _Thread(f"sql-{self.id}-tx", self._connect)
            self._transactions[token] = (pid, thread)

        def job(connection: sqlite3.Connection) -> None:
            try:
                if read_only:
                    connection.execute("PRAGMA query_only = ON")
                connection.execute("BEGIN" if read_only else "BEGIN IMMEDIATE")  # the write lock now, as Go's
            except BaseException as exc:
                with self._lock:
                    self._transactions.pop(token, None)
                done(None, _error(exc))
                threading.Thread(target=thread.close, daemon=True).start()
                return
            done(token, None)

        thread.submit(job)

    def end(self, tx: str, pid: PID, commit: bool, done: Callable[..., None]) -> None:
        """Commit or roll back ``tx``; its connection closes either way."""
        _, thread = self._owned(tx, pid)
        with self._lock:
            self._transactions.pop(tx, None)

        def job(connection: sqlite3.Connection) -> None:
            try:
                connection.execute("COMMIT" if commit else "ROLLBACK")
            except BaseException as exc:
                try:
                    connection.execute("ROLLBACK")
                except sqlite3.Error:
                    pass
                done(False, _error(exc))
            else:
                done(True, None)
            threading.Thread(target=thread.close, daemon=True).start()

        thread.submit(job)

    def _sweep(self) -> None:
        if self._closed:
            return
        self._sweep_now()
        self._sweeper = threading.Timer(SWEEP_EVERY, self._sweep)
        self._sweeper.daemon = True
        self._sweeper.start()

    def _sweep_now(self) -> None:
        """Roll back the transactions of processes that ended."""
        with self._lock:
            dead = [
                (token, thread)
                for token, (pid, thread) in self._transactions.items()
                if not self.node.is_alive(pid)
            ]
            for token, _ in dead:
                del self._transactions[token]
        for _, thread in dead:
            logger.info("rolling back a transaction of %s left open by a process that ended", self.id)

            def rollback(connection: sqlite3.Connection, thread: _Thread = thread) -> None:
                try:
                    connection.execute("ROLLBACK")
                except sqlite3.Error:
                    pass
                threading.Thread(target=thread.close, daemon=True).start()

            thread.submit(rollback)

    def open_transactions(self) -> int:
        with self._lock:
            return len(self._transactions)

    def close(self) -> None:
        self._closed = True
        self._sweeper.cancel()
        with self._lock:
            transactions = list(self._transactions.values())
            self._transactions.clear()
        for _, thread in transactions:
            thread.submit(lambda connection: connection.execute("ROLLBACK"))
            thread.close()
        self._shared.close()


def _statement(sql: Any) -> str:
    if isinstance(sql, bytes):
        sql = sql.decode("utf-8", "replace")
    if not isinstance(sql, str) or not sql.strip():
        raise errors.Error(errors.INVALID, "sql: expected an SQL statement")
    return sql


class Databases:
    """The app's open databases (each opened by its unit)."""

    def __init__(self, resources: AppResources) -> None:
        self.node = resources.node
        self.root = resources.registry.root
        self._declared = {entry.id for entry in resources.registry.of_kind("db.sql.sqlite")}
        self._lock = threading.Lock()
        self.by_id: dict[str, Database] = {}

    def open(self, entry: Entry) -> Database:
        database = Database(entry, self.root, self.node)
        with self._lock:
            self.by_id[entry.id] = database
        return database

    def close_one(self, entry_id: str) -> None:
        with self._lock:
            database = self.by_id.pop(entry_id, None)
        if database is not None:
            database.close()

    def get(self, entry_id: Any) -> Database:
        if not isinstance(entry_id, str) or not entry_id:
            raise errors.Error(errors.INVALID, "sql.get: expected a database ID")
        with self._lock:
            database = self.by_id.get(entry_id)
        if database is None:
            if entry_id in self._declared:
                raise errors.Error(
                    errors.UNAVAILABLE, f"sql.get: database {entry_id} is not running", retryable=True
                )
            raise errors.Error(errors.NOT_FOUND, f"sql.get: no database {entry_id!r} (a db.sql.sqlite entry)")
        return database

    def close(self) -> None:
        with self._lock:
            databases, self.by_id = list(self.by_id.values()), {}
        for database in databases:
            database.close()


def databases_of(resources: AppResources) -> Databases:
    return resources.part("sql", Databases)


class DatabaseUnit(EntryUnit):
    """A ``db.sql.sqlite``: opened and migrated at start (after the host its migrations run on)."""

    label = "database"
    start_timeout = 120.0
    """Migrations may take a while: two minutes unless ``lifecycle.start_timeout`` says."""

    def __init__(self, app: App, context: ContextUnit, entry: Entry) -> None:
        super().__init__(app, context, entry, needs=[app.default_host_id])
        self.applied = 0

    def start(self) -> None:
        from wippy_compat.migrations import run_pending

        databases = databases_of(self.resources)
        databases.open(self.entry)
        try:
            results = run_pending(self.resources, self.id)
        except BaseException:
            databases.close_one(self.id)
            raise
        self.applied = sum(int(result.get("applied") or 0) for result in results)
        self.app.progress(f"started database {self.id} ({self.detail()})")

    def stop(self, timeout: float) -> None:
        databases_of(self.resources).close_one(self.id)

    def detail(self) -> str:
        file = str(self.entry.get("file") or ":memory:")
        return f"sqlite {file}, {self.applied} migrations applied"


def database_units(app: App, context: ContextUnit) -> list[DatabaseUnit]:
    """One unit per ``db.sql.sqlite`` entry."""
    return [DatabaseUnit(app, context, entry) for entry in app.registry.of_kind("db.sql.sqlite")]


# -- the module ------------------------------------------------------------------------------------


def _sql(caller: Caller, what: str, db_id: Any, tx: Any = None, *args: Any) -> Any:
    databases = databases_of(resources_of(caller))
    database = databases.get(db_id)
    if what == "get":
        return True
    if what == "stats":
        return {
            "max_open_connections": MAX_TRANSACTIONS + 1,
            "open_connections": 1 + database.open_transactions(),
            "in_use": database.open_transactions(),
            "idle": 1,
        }
    raise errors.Error(errors.INVALID, f"sql: no function {what}")


def _sql_wait(caller: Caller, what: str, db_id: Any, tx: Any = None, *args: Any) -> None:
    databases = databases_of(resources_of(caller))
    database = databases.get(db_id)
    pid = caller_pid(caller)
    if what == "begin":
        resume = caller.suspend()
        try:
            database.begin(pid, args[0] if args else None, resume)
        except errors.Error as err:
            resume(None, err)
        return
    if what == "query":
        work = database.query(args[0], args[1] if len(args) > 1 else None)
    elif what == "execute":
        work = database.execute(args[0], args[1] if len(args) > 1 else None)
    elif what in ("commit", "rollback"):
        if not isinstance(tx, str):
            raise errors.Error(errors.INVALID, "sql: not a transaction")
        resume = caller.suspend()
        database.end(tx, pid, what == "commit", resume)
        return
    elif what in ("savepoint", "rollback_to", "release"):
        name = args[0]
        if not isinstance(name, str) or not _SAVEPOINT.fullmatch(name):
            raise errors.Error(errors.INVALID, "sql: a savepoint name has only letters, digits and _")
        statement = {"savepoint": "SAVEPOINT", "rollback_to": "ROLLBACK TO", "release": "RELEASE"}[what]
        inner = database.execute(f"{statement} {name}", None)

        def work(connection: sqlite3.Connection) -> bool:
            inner(connection)
            return True

    else:
        raise errors.Error(errors.INVALID, f"sql: no function {what}")
    if isinstance(tx, str):
        database._owned(tx, pid)  # an unknown or foreign transaction fails before waiting
    resume = caller.suspend()
    database.run(tx if isinstance(tx, str) else None, pid, work, resume)


register_module(
    "sql",
    resources.files(__package__) / "lua" / "sql.lua",
    {"call": _sql, "wait": _sql_wait},
    in_workflows=False,
    waiting=("wait",),
)


def _check_sqlite(entry: Entry, registry: Registry) -> list[str]:
    messages = check_lifecycle(entry, registry)
    file = entry.get("file")
    if file is not None and (not isinstance(file, str) or not file):
        messages.append("file must be a path (relative to the app directory) or :memory:")
    rows = entry.get("max_rows")
    if rows is not None and (isinstance(rows, bool) or not isinstance(rows, int) or rows < 1):
        messages.append("max_rows must be a positive integer")
    return messages


register_kind(KindSpec("db.sql.sqlite", check=_check_sqlite, description="an SQLite database file"))
