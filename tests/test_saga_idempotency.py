"""The shipped saga never charges an order twice (issue 12, defect 5).

``examples/saga`` started its workflows under random IDs, so running the
same orders again (after a crash, or twice) started new sagas that charged
again, although its own comment promised otherwise.  The example now uses
business IDs (the workflow ID is the order's, each money step carries an
idempotency key); these tests run it through the real CLI and the real
embedded dev server, on one state dir, and count the charges in the
functions' ledger (the ``charged …`` lines ``charge_payment`` logs).
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from temporal_bridge.server import find_binary

ROOT = Path(__file__).resolve().parents[1]
SAGA = ROOT / "examples" / "saga"
ORDERS = [
    {"id": "order-1", "customer": "ada", "total": 42.50, "address": "12 Analytical Way"},
    {"id": "order-2", "customer": "grace", "total": 19.99, "address": ""},
]
CHARGED = re.compile(r"app:charge_payment\s+charged \S+ [\d.]+ for (\S+)")
STARTED = re.compile(r"started the saga for (\S+) as workflow \{[^|]*\|([^}]*)\}")
SERVER = re.compile(r"started embedded Temporal dev server for \S+ on (\S+)")


def exec_saga(state_dir: Path, orders: list[dict[str, object]]) -> list[str]:
    """``actorflow exec examples/saga app:main ORDERS`` (what ``make demo`` runs)."""
    command = [sys.executable, "-m", "actorflow.cli", "exec", "--state-dir", str(state_dir)]
    return [*command, str(SAGA), "app:main", json.dumps(orders)]


def charges(output: str) -> dict[str, int]:
    """Charges per order in the functions' ledger."""
    counted: dict[str, int] = {}
    for order_id in CHARGED.findall(output):
        counted[order_id] = counted.get(order_id, 0) + 1
    return counted


def test_running_the_saga_twice_charges_each_order_once(tmp_path: Path) -> None:
    state_dir = tmp_path / "state"
    outputs, results = [], []
    for _ in range(2):
        run = subprocess.run(
            exec_saga(state_dir, ORDERS), capture_output=True, text=True, timeout=180, cwd=ROOT
        )
        assert run.returncode == 0, run.stderr
        outputs.append(run.stderr)
        results.append(json.loads(run.stdout))
    assert charges(outputs[0]) == {"order-1": 1, "order-2": 1}
    assert charges(outputs[1]) == {}  # the second run charges nobody …
    assert results[1] == results[0]  # … and reports the outcome the first run stored
    assert results[0]["order-1"]["status"] == "completed"
    assert results[0]["order-2"]["status"] == "refunded"
    assert "order-1 was processed before" in outputs[1]


class Run:
    """A CLI run in the background whose stderr is collected line by line."""

    def __init__(self, command: list[str]) -> None:
        self.process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT
        )
        self.lines: list[str] = []
        self._changed = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            with self._changed:
                self.lines.append(line)
                self._changed.notify_all()

    def wait_for(self, pattern: re.Pattern[str], timeout: float = 120.0) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                for line in self.lines:
                    found = pattern.search(line)
                    if found:
                        return found
                remaining = deadline - time.monotonic()
                assert remaining > 0, f"{pattern.pattern!r} never appeared in:\n{''.join(self.lines)}"
                self._changed.wait(remaining)

    def output(self) -> str:
        self._reader.join(10)
        return "".join(self.lines)


def charge_recorded(address: str, workflow_id: str) -> bool:
    """True once Temporal's history of ``workflow_id`` holds the charge's completion."""
    shown = subprocess.run(
        [
            str(find_binary("temporal")),
            "workflow",
            "show",
            "--address",
            address,
            "--workflow-id",
            workflow_id,
            "--output",
            "json",
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    text = shown.stdout
    return shown.returncode == 0 and ("ACTIVITY_TASK_COMPLETED" in text or "ActivityTaskCompleted" in text)


def test_rerunning_after_a_crash_joins_the_saga_instead_of_charging_again(tmp_path: Path) -> None:
    state_dir = tmp_path / "state"
    order = ORDERS[0]
    first = Run(exec_saga(state_dir, [order]))
    try:
        address = first.wait_for(SERVER).group(1)
        workflow_id = first.wait_for(STARTED).group(2)
        first.wait_for(CHARGED)
        # Kill the app only once Temporal recorded the charge (it then sleeps 2 s before shipping),
        # so no activity retry blurs the count.
        deadline = time.monotonic() + 60
        while not charge_recorded(address, workflow_id):
            assert time.monotonic() < deadline, "the charge was never recorded"
            time.sleep(0.1)
        first.process.send_signal(signal.SIGKILL)
        first.process.wait(30)
    finally:
        if first.process.poll() is None:
            first.process.kill()
            first.process.wait(30)
    crashed_output = first.output()
    assert "order-1 ended" not in crashed_output  # it died mid-saga

    rerun = subprocess.run(
        exec_saga(state_dir, [order]), capture_output=True, text=True, timeout=180, cwd=ROOT
    )
    assert rerun.returncode == 0, rerun.stderr
    assert json.loads(rerun.stdout)["order-1"]["status"] == "completed"
    assert charges(crashed_output) == {"order-1": 1}
    assert charges(rerun.stderr) == {}, rerun.stderr
    assert "shipped order-1" in rerun.stderr  # the saga resumed where the crash left it
