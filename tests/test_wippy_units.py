"""Wippy's resources are units of the app: dependency order, startup rules, a bounded stop."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest

from actorflow.app import App
from actorflow.pytest_plugin import wait_until
from actors import errors

from .lua_support import write_app

HOST = {"name": "processes", "kind": "process.host", "host": {"workers": 4}}

# Declared in the reverse of the order they must start in: the app orders them.
RESOURCES = [
    {"name": "mailer", "kind": "queue.consumer", "queue": "outbox", "func": "send_mail", "concurrency": 2},
    {"name": "outbox", "kind": "queue.queue", "driver": "driver"},
    {"name": "driver", "kind": "queue.driver.memory"},
    {"name": "settings", "kind": "env.storage.router", "storages": ["secrets", "defaults"]},
    {"name": "secrets", "kind": "env.storage.file", "file_path": "secrets.env"},
    {"name": "defaults", "kind": "env.storage.static", "values": {"FROM": "noreply", "REPLY_TO": "desk"}},
    {"name": "sender", "kind": "env.variable", "variable": "FROM", "storage": "settings"},
    {"name": "reply_to", "kind": "env.variable", "variable": "REPLY_TO", "storage": "defaults"},
    {"name": "db", "kind": "db.sql.sqlite", "file": "data/mail.db"},
    {"name": "terminal", "kind": "terminal.host"},
    HOST,
]

SEND_MAIL = """
local sql = require("sql")
local time = require("time")
return function(mail)
  local db = sql.get("app:db")
  db:execute("INSERT INTO sent (address, state) VALUES (?, 'started')", {mail.to})
  time.sleep(mail.takes or "300ms")
  db:execute("UPDATE sent SET state = 'done' WHERE address = ?", {mail.to})
end
"""

MAIN = """
local queue = require("queue")
local sql = require("sql")
local env = require("env")
return function(...)
  local db = sql.get("app:db")
  db:execute("CREATE TABLE IF NOT EXISTS sent (address TEXT, state TEXT)")
  for _, mail in ipairs({...}) do
    local ok, err = queue.publish(mail.queue or "app:outbox", mail)
    if not ok then error(err) end
  end
  local sender, err = env.get("FROM")
  local reply_to = env.get("REPLY_TO")
  return {sender or err:kind(), reply_to}
end
"""


def mail_app(
    root: Path, *, secrets_file: str | None = "FROM=ops\n", extra: list[dict[str, Any]] = (), **changes: dict
) -> Path:
    entries = [dict(entry, **changes.get(entry["name"], {})) for entry in RESOURCES]
    entries += [
        {
            "name": "send_mail",
            "kind": "function.lua",
            "source": "file://send_mail.lua",
            "modules": ["sql", "time"],
        },
        {
            "name": "main",
            "kind": "process.lua",
            "source": "file://main.lua",
            "modules": ["queue", "sql", "env"],
        },
        *extra,
    ]
    files = {"send_mail.lua": SEND_MAIL, "main.lua": MAIN}
    if secrets_file is not None:
        files["secrets.env"] = secrets_file
    return write_app(root, entries, files)


def sent(app_dir: Path) -> list[tuple[str, str]]:
    with sqlite3.connect(app_dir / "data/mail.db") as check:
        return sorted(check.execute("SELECT address, state FROM sent").fetchall())


def test_resources_start_after_what_they_require_whatever_order_they_are_declared_in(tmp_path: Path) -> None:
    lines: list[str] = []
    with App(mail_app(tmp_path), progress=lines.append) as app:
        assert app.exec("app:main", timeout=10) == ["ops", "desk"]  # the router reads the file first
        order = [line for line in lines if line.startswith("started")]

        def position(text: str) -> int:
            return next(index for index, line in enumerate(order) if text in line)

        assert position("host app:processes") < position("database app:db")  # its migrations run there
        assert position("env storage app:secrets") < position("env storage app:settings")
        assert position("env storage app:defaults") < position("env storage app:settings")
        assert position("queue app:outbox") < position("consumer app:mailer")
        assert position("host app:processes") < position("consumer app:mailer")  # its function runs there
        assert "started terminal host app:terminal (1 worker)" in order
        assert "started consumer app:mailer (app:outbox → app:send_mail, 2 at a time)" in order
        assert "started database app:db (sqlite data/mail.db, 0 migrations applied)" in order
        assert "started env storage app:settings (router)" in order
        assert all(app.runner.states[unit.id] == "running" for unit in app.units)
    assert all(state == "stopped" for state in app.runner.states.values()), app.runner.states


def test_a_consumer_stops_after_its_calls_in_flight_end_and_before_the_database_closes(
    tmp_path: Path,
) -> None:
    app_dir = mail_app(tmp_path)
    app = App(app_dir)
    app.start()
    try:
        app.exec("app:main", {"to": "ada@example.com"}, {"to": "bob@example.com"}, timeout=10)
        wait_until(lambda: len(sent(app_dir)) == 2, timeout=10, what="both mails being sent")
        assert {state for _, state in sent(app_dir)} == {"started"}
    finally:
        app.stop()
    # both calls ran to their end: the consumer waited for them, the database closed after it
    assert sent(app_dir) == [("ada@example.com", "done"), ("bob@example.com", "done")]


def test_consumers_that_do_not_finish_are_given_their_stop_timeout_in_parallel(tmp_path: Path) -> None:
    second = [
        {"name": "outbox2", "kind": "queue.queue", "driver": "driver"},
        {"name": "mailer2", "kind": "queue.consumer", "queue": "outbox2", "func": "send_mail",
         "lifecycle": {"stop_timeout": "2s"}},
    ]  # fmt: skip
    app_dir = mail_app(tmp_path, extra=second, mailer={"lifecycle": {"stop_timeout": "2s"}})
    app = App(app_dir)
    app.start()
    try:
        app.exec(
            "app:main",
            {"to": "ada@example.com", "takes": "60s"},
            {"to": "bob@example.com", "takes": "60s", "queue": "app:outbox2"},
            timeout=10,
        )
        wait_until(lambda: len(sent(app_dir)) == 2, timeout=10, what="both mails being sent")
    finally:
        began = time.monotonic()
        app.stop()
        took = time.monotonic() - began
    # each consumer waits its 2 s for its stuck call, both at once, then terminates it: not 4 s, not 60 s
    assert 1.9 <= took < 3.8, took
    assert sent(app_dir) == [("ada@example.com", "started"), ("bob@example.com", "started")]


def test_a_required_storage_that_cannot_open_stops_the_start_an_optional_one_does_not(tmp_path: Path) -> None:
    app = App(mail_app(tmp_path / "required", secrets_file=None))
    with pytest.raises(errors.Error) as caught:
        app.start()
    assert caught.value.kind() == errors.NOT_FOUND
    assert "secrets.env does not exist (auto_create: true creates it) (starting app:secrets)" in (
        caught.value.message()
    )
    assert app.node is None and app.runner.states["app:processes"] == "stopped"

    optional = {"lifecycle": {"startup": "optional"}}
    lines: list[str] = []
    app_dir = mail_app(tmp_path / "optional", secrets_file=None, secrets=optional, settings=optional)
    with App(app_dir, progress=lines.append) as app:
        # the router needs the storage that did not open: it fails too (optional, so the app goes on);
        # a variable of a storage that runs still has its value
        assert set(app.runner.failures) == {"app:secrets", "app:settings"}
        assert app.exec("app:main", timeout=10) == ["UNAVAILABLE", "desk"]
    assert any(line.startswith("app:secrets did not start (optional, going on)") for line in lines)


def test_a_terminal_host_takes_the_lifecycle_of_a_process_host(tmp_path: Path) -> None:
    from actors.entries import AppLoadError

    terminal = {"lifecycle": {"auto_start": True, "stop_timeout": "5s"}}
    with pytest.raises(AppLoadError) as caught:
        App(mail_app(tmp_path, terminal=terminal))
    assert [problem.message for problem in caught.value.problems] == [
        "lifecycle.stop_timeout is not supported on a terminal.host: hosts start first, once, and stop "
        "with the app; a terminal.host honours auto_start: true"
    ]
