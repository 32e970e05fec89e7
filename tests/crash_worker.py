"""A worker OS process for the crash test: runs an app, its functions write a ledger.

Usage: python tests/crash_worker.py APP_DIR LEDGER_FILE
Prints "ready" once the worker polls, then runs until killed.
"""

from __future__ import annotations

import os
import sys
import threading
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from actorflow.app import App  # noqa: E402


def ledger_writer(path: Path, step: str) -> Any:
    def write(order_id: str) -> dict[str, str]:
        with open(path, "a", encoding="utf-8") as ledger:
            ledger.write(f"{step} {order_id}\n")
            ledger.flush()
            os.fsync(ledger.fileno())
        return {"step": step, "order": order_id}

    return write


def main() -> None:
    app_dir, ledger = Path(sys.argv[1]), Path(sys.argv[2])
    app = App(app_dir, state_dir=app_dir / ".state")
    app.start()
    assert app.node is not None
    for step in ("charge", "ship", "refund"):
        app.node.register_function(f"app:{step}", ledger_writer(ledger, step))
    print("ready", flush=True)
    threading.Event().wait()


if __name__ == "__main__":
    main()
