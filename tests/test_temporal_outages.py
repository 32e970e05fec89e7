"""When Temporal cannot be reached: a watcher waits it out, an app start says so plainly.

* A monitor or a link to a workflow reports the workflow's close, and nothing
  else: while the server is down (stopped here, then started again on the same
  port and SQLite file) the watchers ask again, and the one EXIT each delivers
  carries the workflow's real result (issue 12, defect 3: they used to report
  ``tcp connect error`` as the workflow's death).
* A ``temporal.client`` whose address nobody listens on fails the app start
  within its ``connection_timeout`` with ``UNAVAILABLE: cannot connect to
  Temporal at …``, from the API and from the CLI, without a traceback
  (issue 12, defect 12).
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from actorflow.app import App
from actors import Error, Probe, errors
from temporal_bridge import DevServer
from temporal_bridge.server import free_port

ROOT = Path(__file__).resolve().parents[1]

WAITING = """
local function main(report)
    process.send(report, "started")
    local message = process.inbox():receive()
    return {finished = message:payload():data()}
end

return {main = main}
"""


def write_app(root: Path, address: str, *, connection_timeout: str | None = None) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "waiting.lua").write_text(WAITING)
    (root / "main.lua").write_text("return {main = function() return 'ran' end}\n")
    timeout = f"\n    connection_timeout: {connection_timeout}" if connection_timeout else ""
    (root / "app.yaml").write_text(
        f"""namespace: app
entries:
  - name: processes
    kind: process.host
  - name: temporal_client
    kind: temporal.client
    address: "{address}"{timeout}
  - name: worker
    kind: temporal.worker
    client: app:temporal_client
    task_queue: outages
  - name: waiting
    kind: workflow.lua
    source: file://waiting.lua
    meta: {{temporal: {{workflow: {{worker: app:worker}}}}}}
  - name: main
    kind: process.lua
    source: file://main.lua
"""
    )
    return root


def test_watchers_of_a_workflow_outlive_a_server_restart_and_report_only_its_close(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="temporal_bridge.host")
    server = DevServer(tmp_path / "server")
    address = server.start()
    restarted: DevServer | None = None
    try:
        with App(write_app(tmp_path / "app", address), state_dir=tmp_path / "state") as app:
            assert app.node is not None
            with Probe(app.node, trap_links=True, default_timeout=30) as probe:
                pid = probe.spawn("app:waiting", str(probe.pid), host="app:worker", monitor=True, link=True)
                probe.expect_message("started")

                server.stop()
                # Both watchers (the monitor's and the link's) lose their connection;
                # until each has seen that, nothing may reach the probe.
                deadline = time.monotonic() + 90
                while len(_outage_reports(caplog, pid)) < 2:
                    assert time.monotonic() < deadline, "the watchers never saw the server go"
                    probe.expect_nothing(within=0.2)

                restarted = DevServer(tmp_path / "server", port=server.port)
                restarted.start()
                probe.expect_nothing(within=0.5)  # the server is back, the workflow still runs
                _send_until_accepted(app, pid, {"ok": True})
                exits = [probe.expect_exit(pid), probe.expect_exit(pid)]  # the monitor's, the link's
                assert [(event.value, event.error) for event in exits] == [
                    ({"finished": {"ok": True}}, None)
                ] * 2
                probe.expect_nothing(within=0.3)
    finally:
        if restarted is not None:
            restarted.stop()
        server.stop()


def _outage_reports(caplog: pytest.LogCaptureFixture, pid: object) -> list[logging.LogRecord]:
    return [
        record
        for record in caplog.records
        if record.name == "temporal_bridge.host" and str(pid) in record.getMessage()
    ]


def _send_until_accepted(app: App, pid: object, payload: object) -> None:
    """A signal right after the restart may meet a connection still being made again."""
    assert app.node is not None
    deadline = time.monotonic() + 60
    while True:
        try:
            app.node.send(pid, "finish", payload)  # type: ignore[arg-type]
            return
        except Error as err:
            if not err.retryable() or time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def test_an_unreachable_temporal_address_fails_the_app_start_with_unavailable(tmp_path: Path) -> None:
    port = free_port()  # bound and released: nothing listens there
    app_dir = write_app(tmp_path / "app", f"127.0.0.1:{port}", connection_timeout="2s")
    started = time.monotonic()
    with pytest.raises(Error) as refused:
        App(app_dir, state_dir=tmp_path / "state").start()
    elapsed = time.monotonic() - started
    assert refused.value.kind() == errors.UNAVAILABLE
    assert refused.value.message().startswith(f"cannot connect to Temporal at 127.0.0.1:{port} ")
    assert "app:temporal_client" in refused.value.message()
    assert 1.5 <= elapsed < 10, f"gave up after {elapsed:.1f} s with connection_timeout 2s"


def test_the_cli_reports_an_unreachable_temporal_address_in_one_line(tmp_path: Path) -> None:
    port = free_port()
    app_dir = write_app(tmp_path / "app", f"127.0.0.1:{port}", connection_timeout="1s")
    run = subprocess.run(
        [sys.executable, "-m", "actorflow.cli", "-q", "exec", str(app_dir), "app:main"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert run.returncode == 1, run.stderr
    assert "Traceback" not in run.stderr
    lines = [line for line in run.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith(
        f"error: UNAVAILABLE: cannot connect to Temporal at 127.0.0.1:{port} "
    ), run.stderr
