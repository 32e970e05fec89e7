"""The worker OS process of the durability scenario: the saga app, its steps writing a ledger.

Usage: python tests/durability_worker.py ADDRESS LEDGER STATE_DIR [HOLD_SECONDS]

Starts ``tests/apps/durability`` with ``app:temporal_client`` pointed at the
Temporal server at ADDRESS (a dev server the scenario runs in its own OS
process, so it outlives this one), registers the saga's five steps as Python
functions, prints ``ready`` once the worker polls, then runs until killed
(SIGKILL, as the scenario does) or stopped (SIGTERM: the app stops cleanly).

Each step is a stand-in for a call with an effect outside (a charge, a
shipment): on entry it appends a run to the ledger, a SQLite file written
with ``synchronous=FULL`` (each commit is on disk before the step goes on),
keyed by workflow ID, step and run number (1 for the first run of that step
of that saga, 2 for a second, …), with this process's PID and the time.  It
then works for HOLD_SECONDS and marks the run ended.  A run without an end
is one that was killed in the middle; a step with two runs was run twice.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import sys
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from actorflow.app import App, default_extensions  # noqa: E402

APP_DIR = ROOT / "tests" / "apps" / "durability"
STEPS = ("reserve", "charge", "pack", "ship", "deliver")

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    workflow_id TEXT NOT NULL,
    step TEXT NOT NULL,
    run INTEGER NOT NULL,
    worker INTEGER NOT NULL,
    began REAL NOT NULL,
    ended REAL,
    PRIMARY KEY (workflow_id, step, run)
)
"""


def open_ledger(path: Path) -> sqlite3.Connection:
    """A connection in autocommit mode (transactions are explicit), WAL, every commit synced."""
    connection = sqlite3.connect(path, timeout=60, isolation_level=None, check_same_thread=False)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=FULL")
    connection.execute(SCHEMA)
    return connection


class Ledger:
    """Appends the runs of the steps; one connection per function thread."""

    def __init__(self, path: Path, hold: float) -> None:
        self.path = path
        self.hold = hold
        self.worker = os.getpid()
        self._local = threading.local()

    def _connection(self) -> sqlite3.Connection:
        connection = getattr(self._local, "connection", None)
        if connection is None:
            connection = self._local.connection = open_ledger(self.path)
        return connection

    def step(self, name: str) -> Any:
        def run_step(workflow_id: str, step: str, order_id: str) -> dict[str, Any]:
            if step != name:
                raise ValueError(f"app:{name} called for step {step!r}")
            connection = self._connection()
            connection.execute("BEGIN IMMEDIATE")
            try:
                (number,) = connection.execute(
                    "SELECT COALESCE(MAX(run), 0) + 1 FROM runs WHERE workflow_id = ? AND step = ?",
                    (workflow_id, step),
                ).fetchone()
                connection.execute(
                    "INSERT INTO runs (workflow_id, step, run, worker, began) VALUES (?, ?, ?, ?, ?)",
                    (workflow_id, step, number, self.worker, time.time()),
                )
                connection.execute("COMMIT")
            except BaseException:
                connection.execute("ROLLBACK")
                raise
            time.sleep(self.hold)  # the step's work: the window in which a kill interrupts it
            connection.execute(
                "UPDATE runs SET ended = ? WHERE workflow_id = ? AND step = ? AND run = ?",
                (time.time(), workflow_id, step, number),
            )
            return {"step": step, "order": order_id, "run": number, "worker": self.worker}

        return run_step


def main() -> None:
    address, ledger_path, state_dir = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
    hold = float(sys.argv[4]) if len(sys.argv) > 4 else 0.2
    open_ledger(ledger_path).close()
    ledger = Ledger(ledger_path, hold)

    def register_steps(app: App) -> None:
        # Before the Temporal worker starts polling: a restarted worker is handed
        # pending activities at once, and a step not yet registered would be
        # NOT_FOUND (non-retryable), failing the saga.
        assert app.node is not None
        for step in STEPS:
            app.node.register_function(f"app:{step}", ledger.step(step))

    app = App(APP_DIR, state_dir=state_dir, extensions=[register_steps, *default_extensions()])
    app.registry.require("app:temporal_client").data["address"] = address
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    app.start()
    print("ready", flush=True)
    stopped.wait()
    app.stop()
    sys.stdout.flush()
    os._exit(0)  # temporalio can crash at interpreter exit (sdk-python issue 300)


if __name__ == "__main__":
    main()
