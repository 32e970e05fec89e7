"""The seeds' process-level snippets, run as Lua processes on a process host.

The Lua files are the ones tests/test_workflows_seeds.py runs as workflows:
the same code works in both places.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from actorflow.app import App
from actors import Probe, errors

APP_DIR = Path(__file__).parent / "apps" / "processes"
SHARED_LUA = Path(__file__).parent / "apps" / "workflows"


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[App]:
    calls: list[str] = []
    # Sources must lie inside the app directory: this app plus a copy of the workflows' Lua files.
    root = tmp_path_factory.mktemp("processes")
    shutil.copy(APP_DIR / "app.yaml", root / "app.yaml")
    shutil.copytree(SHARED_LUA, root / "workflows", ignore=shutil.ignore_patterns("*.yaml"))
    with App(root, extensions=[]) as running:
        node = running.node
        assert node is not None

        def record(name: str, result: Any = None) -> Any:
            def function(argument: Any = None) -> Any:
                calls.append(name)
                return result(argument) if callable(result) else result

            return function

        node.register_function("app:fulfill", record("app:fulfill", lambda order: {"fulfilled": order["id"]}))
        node.register_function("app.inventory:reserve", record("reserve", {"id": "inv-1"}))
        node.register_function("app.payments:charge", record("charge", {"id": "pay-1"}))
        node.register_function("app.shipping:create", record("ship", lambda order: {"error": "no carrier"}))
        node.register_function("app.payments:refund", record("refund"))
        node.register_function("app.inventory:release", record("release"))
        node.register_function("app.approvals:submit", record("submit"))
        node.register_function("app.orders:fulfill", record("fulfill"))
        node.register_function("app.notifications:send_rejection", record("reject"))
        running.calls = calls  # type: ignore[attr-defined]
        yield running


@pytest.fixture
def probe(app: App) -> Iterator[Probe]:
    app.calls.clear()  # type: ignore[attr-defined]
    assert app.node is not None
    with Probe(app.node, default_timeout=10) as probe:
        yield probe


def test_inbox_loop_with_approve_and_cancel(app: App, probe: Probe) -> None:
    approved = probe.spawn("app:inbox_loop", {"id": "o-1"}, monitor=True)
    probe.send(approved, "noise", {})
    probe.send(approved, "approve", {})
    assert probe.expect_exit(approved).value == {"fulfilled": "o-1"}
    cancelled = probe.spawn("app:inbox_loop", {"id": "o-2"}, monitor=True)
    probe.send(cancelled, "cancel", {"reason": "changed mind"})
    assert probe.expect_exit(cancelled).value == {"status": "cancelled", "reason": "changed mind"}
    assert app.calls == ["app:fulfill"]  # type: ignore[attr-defined]


def test_listen_and_select_with_an_exit_topic(probe: Probe) -> None:
    pid = probe.spawn("app:jobs_loop", {}, monitor=True)
    for job in ("a", "b"):
        probe.send(pid, "add_job", {"id": job})
    probe.send(pid, "exit")
    result = probe.expect_exit(pid).value
    assert result["total_jobs"] == 2
    assert [item["result"] for item in result["results"]] == [
        {"echoed": "a", "data": {"id": "a"}},
        {"echoed": "b", "data": {"id": "b"}},
    ]


def test_two_coroutine_handlers_with_ack_and_nak(probe: Probe) -> None:
    pid = probe.spawn("app:counter", {"initial": 1}, monitor=True)
    probe.send(pid, "increment", {"amount": 4})
    probe.expect_message("ack", sender=pid)
    assert probe.expect_message("ok").payload == {"value": 5}
    probe.send(pid, "decrement", {"amount": 9})
    assert probe.expect_message("nak").payload == "would result in negative value"
    probe.send(pid, "finish")
    probe.expect_message("ack")
    probe.expect_message("ok")
    assert probe.expect_exit(pid).value == {"final_counter": 5}


def test_request_response_with_a_timeout(app: App, probe: Probe) -> None:
    server = probe.spawn("app:status_server", monitor=True)
    assert app.exec("app:status_caller", str(server), timeout=10) == {"status": "processing", "progress": 75}
    assert probe.expect_exit(server).value == "answered"


def test_worker_pool_over_buffered_channels(probe: Probe) -> None:
    pid = probe.spawn("app:pool", {"workers": 3, "jobs": 9}, monitor=True)
    result = probe.expect_exit(pid).value
    assert result["total"] == 90 and len(result["processed"]) == 9


def test_saga_compensations_as_a_process(app: App, probe: Probe) -> None:
    pid = probe.spawn("app:saga", ["x"], 10, {"id": "o-9"}, monitor=True)
    event = probe.expect_exit(pid, error_kind=errors.INTERNAL)
    assert event.error is not None and event.error.message() == "no carrier"
    assert app.calls == ["reserve", "charge", "ship", "refund", "release"]  # type: ignore[attr-defined]


def test_approval_reads_message_fields(app: App, probe: Probe) -> None:
    pid = probe.spawn("app:approval", {"order_id": "o-3"}, monitor=True)
    probe.send(pid, "decision", {"approved": True})
    assert probe.expect_exit(pid).value == {"approved": True}
    assert app.calls == ["submit", "fulfill"]  # type: ignore[attr-defined]
