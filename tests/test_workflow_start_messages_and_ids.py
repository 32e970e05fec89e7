"""Workflows started with messages, workflow IDs of any text, sends never dropped.

The EXIT of a workflow started with ``with_message`` carries its result, with
a generated ID, an explicit one and the use-existing policy (issue 17 item
6), and Wippy's own use-existing test passes as written.  A workflow ID made
of a PID round-trips (issue 13 item 6); a send a workflow cannot deliver is
an error, never dropped; a workflow sending to itself gets the message.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from actorflow.app import App
from actors import Probe, errors

from .workflow_ref_support import (
    WORKER,
    assert_every_workflow_replays,
    drive,
    ref_app,
    ref_probe,
)

pytestmark = pytest.mark.temporal("dev")


@pytest.fixture(scope="module")
def app(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[App]:
    with ref_app(request, tmp_path_factory) as running:
        yield running


@pytest.fixture
def probe(app: App) -> Iterator[Probe]:
    with ref_probe(app) as probe:
        yield probe


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"temporal.workflow.id": "start-messages-explicit"},
        {
            "temporal.workflow.id": "start-messages-existing",
            "temporal.workflow.id_conflict_policy": "use_existing",
        },
    ],
    ids=["generated-id", "explicit-id", "use-existing"],
)
def test_the_exit_of_a_workflow_started_with_messages_carries_its_result(
    app: App, options: dict[str, Any]
) -> None:
    result = drive(app, "start_messages_exit", options)
    assert result["replies"] == ["ack", "ok", "ack", "ok"]
    assert (result["kind"], result["from"], result.get("error")) == ("pid.exit", True, None)
    assert result["value"] == {"final_counter": 6}


def test_wippy_start_messages_reaching_an_existing_workflow_are_all_applied(app: App) -> None:
    """Wippy's own test (startup_messages_explicit_id_use_existing.lua), as its authors wrote it."""
    result = drive(app, "wippy_use_existing", "wippy-use-existing")
    assert result["same"] is True and result.get("error") is None
    assert result["value"]["final_counter"] == 5
    assert result["value"]["updates_processed"] == 2


# -- workflow IDs any text, sends never dropped (issue 13, item 6) ---------------------------------


def test_a_workflow_id_made_from_a_pid_round_trips_and_unroutable_sends_are_errors(app: App) -> None:
    result = drive(app, "custom_id")
    assert result["id"].startswith("counter-{app:processes|0x")
    assert (
        result["pid"]
        == "{app:temporal_client@app:worker|"
        + result["id"].replace("|", "%7C").replace("{", "%7B").replace("}", "%7D")
        + "}"
    )
    assert (result["sent"], result.get("send_err")) == (True, None)
    assert result["replies"] == ["ack", "ok", "ack"] and result["from_is_pid"] is True
    assert result["value"] == {"value": 2} and result["exit"] == {"final_counter": 2}
    assert (result["unknown_host"], result["unknown_node"], result["unknown_workflow"]) == (
        errors.NOT_FOUND,
        errors.NOT_FOUND,
        errors.NOT_FOUND,
    )


def test_sends_a_workflow_cannot_deliver_are_errors(probe: Probe) -> None:
    pid = probe.spawn("app:send_errors_workflow", host=WORKER, monitor=True)
    assert probe.expect_exit(pid).value == {
        "unknown_host": errors.NOT_FOUND,
        "unknown_node": errors.NOT_FOUND,
        "unknown_name": errors.NOT_FOUND,
        "unknown_workflow": errors.NOT_FOUND,
    }


def test_a_workflow_sending_to_itself_gets_the_message(probe: Probe) -> None:
    pid = probe.spawn("app:self_send_workflow", host=WORKER, monitor=True)
    assert probe.expect_exit(pid).value == {"ok": True, "data": {"n": 1}, "from_self": True}
    # A generated workflow ID: a UUID chosen when the worker started, then a counter (spec §2).
    assert re.fullmatch(r"[0-9a-f-]{36}_0x[0-9a-f]{5,}", pid.uniq), pid.uniq


def test_every_workflow_this_module_ran_replays_in_another_process(app: App, tmp_path: Path) -> None:
    """Last in the module: start messages, workflow IDs made of PIDs, self-sends."""
    assert_every_workflow_replays(app, tmp_path, at_least=6)
