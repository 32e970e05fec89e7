"""Kill the worker's OS process in the middle of a saga: the workflow still completes.

The worker is a separate OS process (tests/crash_worker.py) against a dev
server this test starts; its business functions append to a ledger file.
It is killed with SIGKILL after the charge, while the workflow sleeps; a new
worker process picks the workflow up from its history and finishes it, and
the ledger shows every step exactly once.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from temporalio.api.enums.v1 import EventType
from temporalio.client import Client

from temporal_bridge import DevServer, data_converter
from temporal_bridge.interceptors import ActorflowInterceptor

ROOT = Path(__file__).resolve().parents[1]

SAGA = """
local funcs = require("funcs")
local time = require("time")

local function main(order)
    local payment, err = funcs.call("app:charge", order.id)
    if err then return {status = "failed", step = "charge"} end
    time.sleep("3s")
    local shipment, err = funcs.call("app:ship", order.id)
    if err then
        funcs.call("app:refund", order.id)
        return {status = "refunded"}
    end
    return {status = "completed", payment = payment.step, shipment = shipment.step}
end

return {main = main}
"""


def write_app(root: Path, address: str) -> None:
    root.mkdir(parents=True)
    (root / "saga.lua").write_text(SAGA)
    (root / "app.yaml").write_text(
        f"""namespace: app
entries:
  - name: processes
    kind: process.host
  - name: temporal_client
    kind: temporal.client
    address: "{address}"
  - name: worker
    kind: temporal.worker
    client: app:temporal_client
    task_queue: crash
    worker_options:
      sticky_schedule_to_start_timeout: 1s
  - name: saga
    kind: workflow.lua
    source: file://saga.lua
    modules: [funcs, time]
    meta: {{temporal: {{workflow: {{worker: app:worker}}}}}}
"""
    )


def start_worker(app_dir: Path, ledger: Path) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "tests" / "crash_worker.py"), str(app_dir), str(ledger)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    assert line.strip() == "ready", f"worker did not start: {line!r}"
    return process


async def history_has_timer(client: Client, workflow_id: str) -> bool:
    async for event in client.get_workflow_handle(workflow_id).fetch_history_events():
        if event.event_type == EventType.EVENT_TYPE_TIMER_STARTED:
            return True
    return False


def test_saga_survives_a_sigkilled_worker(tmp_path: Path) -> None:
    ledger = tmp_path / "ledger.txt"
    ledger.touch()
    with DevServer(tmp_path / "server") as server:
        app_dir = tmp_path / "app"
        write_app(app_dir, server.address)
        first = start_worker(app_dir, ledger)
        second = None
        try:

            async def scenario() -> dict[str, str]:
                nonlocal second
                client = await Client.connect(
                    server.address, data_converter=data_converter, interceptors=[ActorflowInterceptor()]
                )
                handle = await client.start_workflow(
                    "app:saga", {"id": "order-1"}, id="crash-saga", task_queue="crash"
                )
                deadline = time.monotonic() + 30
                while not (ledger.read_text() and await history_has_timer(client, "crash-saga")):
                    assert time.monotonic() < deadline, "the saga never reached its sleep"
                    await asyncio.sleep(0.05)
                first.send_signal(signal.SIGKILL)
                first.wait(10)
                assert ledger.read_text().splitlines() == ["charge order-1"]
                second = start_worker(app_dir, ledger)
                return await asyncio.wait_for(handle.result(), timeout=60)

            result = asyncio.run(scenario())
        finally:
            for process in (first, second):
                if process is not None and process.poll() is None:
                    process.kill()
                    process.wait(10)
    assert result == {"status": "completed", "payment": "charge", "shipment": "ship"}
    assert ledger.read_text().splitlines() == ["charge order-1", "ship order-1"]
