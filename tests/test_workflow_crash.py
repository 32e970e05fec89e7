"""Kill the worker's OS process in the middle of a saga: the workflow still completes.

The worker is a separate OS process (tests/crash_worker.py) against a dev
server this test starts; its business functions append to a ledger file.
It is killed with SIGKILL after the charge, while the workflow sleeps; a new
worker process picks the workflow up from its history and finishes it, and
the ledger shows every step exactly once.

The second test kills the whole app (``actorflow exec`` with its embedded
dev server) and runs the same command again on the same state directory.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client

from temporal_bridge import DevServer, data_converter
from temporal_bridge.interceptors import ActorflowInterceptor

pytestmark = pytest.mark.temporal("dev")  # the embedded dev server's SQLite state is the subject

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


RESTART_APP = """namespace: app
entries:
  - {name: processes, kind: process.host}
  - {name: temporal_client, kind: temporal.client}     # embedded dev server, SQLite under .actorflow
  - {name: worker, kind: temporal.worker, client: app:temporal_client, task_queue: restart,
     worker_options: {sticky_schedule_to_start_timeout: 1s}}
  - {name: charge, kind: function.lua, source: file://steps.lua, method: charge}
  - {name: ship, kind: function.lua, source: file://steps.lua, method: ship}
  - {name: refund, kind: function.lua, source: file://steps.lua, method: refund}
  - name: saga
    kind: workflow.lua
    source: file://saga.lua
    modules: [funcs, time]
    meta: {temporal: {workflow: {worker: app:worker}}}
  - {name: main, kind: process.lua, source: file://main.lua}
"""

RESTART_STEPS = """
local function step(name) return function(order_id) return {step = name, order = order_id} end end
return {charge = step("charge"), ship = step("ship"), refund = step("refund")}
"""

# Start the saga under the order's ID, or find it running, and wait for its end.
RESTART_MAIN = """
return function(order)
  local spawner = process.with_options({}):with_name(order.id)
  local pid, err = spawner:spawn_monitored("app:saga", "app:worker", order)
  if err then return {error = tostring(err)} end
  local event = process.events():receive()
  return event.result.value
end
"""


def test_an_app_killed_mid_saga_finishes_it_when_run_again(tmp_path: Path) -> None:
    """`actorflow exec` SIGKILLed during the saga's sleep: its embedded server goes
    down with it; the same command run again reopens the SQLite state, finds the
    running workflow by name and gets its result. The history shows each step once."""
    app_dir = tmp_path / "app"
    app_dir.mkdir()
    (app_dir / "app.yaml").write_text(RESTART_APP)
    (app_dir / "steps.lua").write_text(RESTART_STEPS)
    (app_dir / "saga.lua").write_text(SAGA)
    (app_dir / "main.lua").write_text(RESTART_MAIN)
    command = [sys.executable, "-m", "actorflow.cli", "exec", str(app_dir), "app:main", '{"id": "order-7"}']
    env = {**os.environ, "PYTHONPATH": str(ROOT)}

    first = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert first.stderr is not None
        address = None
        for line in first.stderr:
            if "started embedded Temporal dev server" in line:
                address = line.rsplit(" on ", 1)[1].strip()
                break
        assert address, "the first run never started its dev server"

        async def wait_for_the_sleep() -> None:
            client = await Client.connect(address, data_converter=data_converter)
            deadline = time.monotonic() + 30
            while True:
                try:
                    if await history_has_timer(client, "order-7"):
                        return
                except Exception:  # not started yet
                    pass
                assert time.monotonic() < deadline, "the saga never reached its sleep"
                await asyncio.sleep(0.05)

        asyncio.run(wait_for_the_sleep())
        first.send_signal(signal.SIGKILL)
        first.wait(10)
    finally:
        if first.poll() is None:
            first.kill()
            first.wait(10)

    second = subprocess.run(command, capture_output=True, text=True, env=env, timeout=120)
    assert second.returncode == 0, second.stderr
    assert json.loads(second.stdout.strip().splitlines()[-1]) == {
        "status": "completed",
        "payment": "charge",
        "shipment": "ship",
    }

    async def completed_activities() -> list[tuple[str, str]]:
        """Each completed activity and the OS process (PID) of the worker that ran it."""
        with DevServer(app_dir / ".actorflow" / "temporal" / "temporal_client") as server:
            client = await Client.connect(server.address, data_converter=data_converter)
            handle = client.get_workflow_handle("order-7")
            scheduled: dict[int, str] = {}
            ran_in: dict[int, str] = {}
            done = []
            async for event in handle.fetch_history_events():
                attributes = event.activity_task_scheduled_event_attributes
                if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
                    scheduled[event.event_id] = attributes.activity_type.name
                if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED:
                    started = event.activity_task_started_event_attributes
                    ran_in[started.scheduled_event_id] = started.identity.split("@")[0]
                if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
                    scheduled_id = event.activity_task_completed_event_attributes.scheduled_event_id
                    done.append((scheduled[scheduled_id], ran_in[scheduled_id]))
            return done

    (charge, charged_in), (ship, shipped_in) = asyncio.run(completed_activities())
    assert (charge, ship) == ("app:charge", "app:ship")
    # The kill came mid-saga (not after it had finished): the killed run charged, the next one shipped.
    assert charged_in == str(first.pid) and shipped_in != str(first.pid)
