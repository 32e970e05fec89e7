"""Workflows that sleep for hours, on the time-skipping test server."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from actorflow.app import App
from actorflow.pytest_plugin import running_app, temporal_environment
from actors import Error, Probe, errors

from .replay_support import assert_all_replay

APP_DIR = Path(__file__).parent / "apps" / "timeskip"
pytestmark = pytest.mark.temporal("time-skipping")  # workflows that sleep for hours


@pytest.fixture(scope="module")
def app(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[App]:
    calls: list[str] = []
    state = tmp_path_factory.mktemp("timeskip-state")
    with running_app(APP_DIR, state_dir=state, temporal=temporal_environment(request)) as running:
        node = running.node
        assert node is not None

        def ship(request: dict[str, Any]) -> dict[str, Any]:
            calls.append("ship")
            if request["order_id"] == "bad":
                raise Error(errors.UNAVAILABLE, "no carrier", retryable=False)
            return {"tracking_number": "TRK-" + request["order_id"]}

        def charge(request: dict[str, Any]) -> dict[str, Any]:
            calls.append("charge")
            return {"id": "pay-" + request["customer"]}

        node.register_function("app:charge_payment", charge)
        node.register_function("app:ship_order", ship)
        node.register_function("app:refund_payment", lambda payment_id: calls.append(f"refund {payment_id}"))
        node.register_function("app.api:charge_card", lambda payment: {"id": "ch-" + str(payment["amount"])})
        node.register_function("app.api:check_status", lambda charge_id: "failed")
        node.register_function("app.api:refund", lambda charge_id: calls.append(f"refund {charge_id}"))
        running.calls = calls  # type: ignore[attr-defined]
        yield running


RAN: list[str] = []
"""IDs of the workflows this module ran, for the replay test at the end."""


def spawn(probe: Probe, entry: str, *args: Any) -> Any:
    pid = probe.spawn(entry, *args, host="app:worker", monitor=True)
    RAN.append(pid.uniq)
    return pid


@pytest.fixture
def probe(app: App) -> Iterator[Probe]:
    app.calls.clear()  # type: ignore[attr-defined]
    assert app.node is not None
    with Probe(app.node, default_timeout=60) as probe:
        yield probe


def test_order_workflow_sleeps_an_hour_in_moments(app: App, probe: Probe) -> None:
    order = {"id": "o-1", "total": 99.5, "customer_id": "c-7", "shipping_address": "Main St"}
    started = time.monotonic()
    pid = spawn(probe, "app:order_workflow", order)
    event = probe.expect_exit(pid)
    assert event.value == {"status": "completed", "payment_id": "pay-c-7", "tracking": "TRK-o-1"}
    assert time.monotonic() - started < 30
    assert app.calls == ["charge", "ship"]  # type: ignore[attr-defined]


def test_order_workflow_refunds_when_shipping_fails(app: App, probe: Probe) -> None:
    order = {"id": "bad", "total": 5, "customer_id": "c-8", "shipping_address": "nowhere"}
    pid = spawn(probe, "app:order_workflow", order)
    event = probe.expect_exit(pid)
    assert event.value == {"status": "failed", "error": "no carrier"}
    assert app.calls == ["charge", "ship", "refund pay-c-8"]  # type: ignore[attr-defined]


def test_seed_card_snippet_with_a_24h_sleep(app: App, probe: Probe) -> None:
    pid = spawn(probe, "app:card_workflow", {"amount": 12})
    assert probe.expect_exit(pid).value == {"charged": "ch-12", "status": "failed"}
    assert app.calls == ["refund ch-12"]  # type: ignore[attr-defined]


def test_timers_and_elapsed_time_follow_the_workflow_clock(app: App, probe: Probe) -> None:
    started = time.monotonic()
    pid = spawn(probe, "app:timers_workflow")
    result = probe.expect_exit(pid).value
    assert 1000 <= result["elapsed"] < 2000
    day_and_more = (24 * 3600 + 5 * 60 + 30 + 1) * 1000 + 100
    assert day_and_more <= result["total"] < day_and_more + 60_000  # a day on the workflow's clock
    assert time.monotonic() - started < 30  # and moments on ours


def test_every_workflow_this_module_ran_replays_in_another_process(app: App, tmp_path: Path) -> None:
    """Last in the module: the histories recorded on the time-skipping server replay elsewhere."""
    runtime = app._started[0]
    client = runtime.clients["app:temporal_client"]

    async def histories() -> list[str]:  # the test server has no visibility API to list them
        return [
            (await client.get_workflow_handle(workflow_id).fetch_history()).to_json() for workflow_id in RAN
        ]

    assert_all_replay(APP_DIR, runtime.loop.run(histories(), timeout=60), tmp_path)
