"""Temporal updates and queries to workflow PIDs (spec §12.10), on the real dev server.

Sent by temporalio's own client, by the Python API (``temporal_bridge.update``
/ ``query``) and by the Lua ``temporal`` module.  A workflow serves an update
as a message from ``{update|<id>}`` and answers with ``ack``/``nak``/``ok``/
``error``: seed 003's counter as written, updates whose first round leaves
a trace, and those that cannot be served.  docs/workflow-features.md maps
the spec's checklist rows to these tests.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import WorkflowUpdateFailedError

import temporal_bridge
from actorflow.app import App
from actors import Error, Probe, errors

from .workflow_ref_support import (
    WORKER,
    assert_every_workflow_replays,
    drive,
    history_events,
    plain_client,
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


def test_seed_counter_serves_updates_from_a_temporal_client_and_signals_from_processes(
    app: App, probe: Probe
) -> None:
    """Seed 003's counter, unchanged: ack/ok replies complete an update, nak rejects it."""
    pid = probe.spawn("app:counter_workflow", {"initial": 10}, host=WORKER, monitor=True)
    with_client = plain_client(app)

    async def updates(client: Any) -> list[Any]:
        handle = client.get_workflow_handle(pid.uniq)
        results: list[Any] = [await handle.execute_update("increment", {"amount": 5})]
        for name, argument in (("increment", {"amount": "x"}), ("decrement", {"amount": 100})):
            try:
                await handle.execute_update(name, argument)
            except WorkflowUpdateFailedError as failed:
                results.append((failed.cause.type, failed.cause.message))  # type: ignore[attr-defined]
        results.append(await handle.query("pid"))
        results.append(await handle.query("state"))
        return results

    assert with_client(updates) == [
        {"value": 15},
        (errors.INVALID, "amount must be a number"),
        (errors.INVALID, "would result in negative value"),
        pid.uniq,
        {},
    ]
    # The same code serves a process's signal: the replies come back as messages.
    probe.send(pid, "decrement", {"amount": 3})
    assert probe.expect_message("ack").sender == pid
    assert probe.expect_message("ok").payload == {"value": 12}
    probe.send(pid, "decrement", {"amount": 50})
    assert probe.expect_message("nak").payload == "would result in negative value"
    assert temporal_bridge.update(app.node, pid, "finish") == {"message": "finishing"}
    assert probe.expect_exit(pid).value == {"final_counter": 12}
    # A nak before ack is a rejection: no trace in the history; the accepted ones are there.
    events = history_events(app, pid.uniq)
    assert events.count("EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED") == 2
    assert events.count("EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED") == 2


def test_an_update_arrives_as_a_message_from_an_update_pid(app: App, probe: Probe) -> None:
    pid = probe.spawn("app:echo_sender_workflow", host=WORKER, monitor=True)

    async def update(client: Any) -> Any:
        return await client.get_workflow_handle(pid.uniq).execute_update("who", 1, id="upd|{1}")

    assert plain_client(app)(update) == {"from": "{update|upd%7C%7B1%7D}", "topic": "who", "data": 1}
    probe.send(pid, "stop")
    probe.expect_exit(pid)


def test_updates_whose_first_round_leaves_a_trace(app: App, probe: Probe) -> None:
    """Timers, activities, randomness, new subscriptions before the reply: accepted, then completed."""
    pid = probe.spawn("app:update_workflow", host=WORKER, monitor=True)
    node = app.node
    assert temporal_bridge.update(node, pid, "slow") == {"slept": True, "generation": 1}
    assert temporal_bridge.update(node, pid, "call", 21) == 42  # funcs.call before the reply
    with pytest.raises(Error) as refused:  # the activity's error, sent back with nak
        temporal_bridge.update(node, pid, "call", "x")
    assert (refused.value.kind(), refused.value.message()) == (errors.INVALID, "not a number")
    for name, message in (("traced_nak", "changed my mind"), ("random_nak", "rolled ")):
        with pytest.raises(Error) as failed:
            temporal_bridge.update(node, pid, name)
        assert failed.value.kind() == errors.INVALID and failed.value.message().startswith(message)
    with pytest.raises(Error) as busy:
        temporal_bridge.update(node, pid, "fail")
    assert (busy.value.kind(), busy.value.message(), busy.value.retryable()) == (
        errors.CONFLICT,
        "busy",
        False,
    )
    events = history_events(app, pid.uniq)
    # slow, call, call, traced_nak, random_nak, fail: each accepted (a nak after a trace fails it)
    assert events.count("EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED") == 6
    # process.upgrade from an update: continue-as-new, the same PID serves the next run
    assert temporal_bridge.update(node, pid, "upgrade") == {"upgrading_from": 1}
    assert temporal_bridge.update(node, pid, "slow") == {"slept": True, "generation": 2}
    assert temporal_bridge.query(node, pid, "pid") == pid.uniq
    assert temporal_bridge.update(node, pid, "stop") == {"generation": 2}
    assert probe.expect_exit(pid).value == {"generation": 2}


def test_updates_and_queries_that_cannot_be_served(app: App, probe: Probe) -> None:
    pid = probe.spawn("app:update_workflow", host=WORKER, monitor=True)
    node = app.node
    with pytest.raises(Error) as reserved:
        temporal_bridge.update(node, pid, "@pid/inbox")
    assert reserved.value.kind() == errors.INVALID
    with pytest.raises(Error) as unknown:
        temporal_bridge.query(node, pid, "nope")
    assert unknown.value.kind() == errors.NOT_FOUND and "pid, state" in unknown.value.message()
    with pytest.raises(Error) as missing:
        temporal_bridge.update(node, "{app:temporal_client@app:worker|no-such-workflow}", "slow")
    assert missing.value.kind() == errors.NOT_FOUND
    with pytest.raises(Error) as not_workflow:
        temporal_bridge.update(node, probe.pid, "slow")
    assert not_workflow.value.kind() == errors.INVALID
    assert temporal_bridge.update(node, pid, "stop") == {"generation": 1}
    probe.expect_exit(pid)
    # A closed workflow still answers queries (Temporal replays it to ask).
    assert temporal_bridge.query(node, pid, "state") == {}
    with pytest.raises(Error) as closed:
        temporal_bridge.update(node, pid, "slow")
    assert closed.value.kind() == errors.NOT_FOUND


def test_updates_and_queries_from_lua(app: App, probe: Probe) -> None:
    pid = probe.spawn("app:counter_workflow", {"initial": 1}, host=WORKER, monitor=True)
    result = drive(app, "lua_updates", str(pid))
    assert result["value"] == {"value": 3} and result.get("err") is None
    assert result["nak"] == {"kind": errors.INVALID, "message": "amount must be a number"}
    assert (result["workflow_id"], result["state"]) == (pid.uniq, {})
    assert result["unknown_query"]["kind"] == errors.NOT_FOUND
    assert result["unknown_workflow"]["kind"] == errors.NOT_FOUND
    assert result["not_a_workflow"]["kind"] == errors.INVALID
    probe.send(pid, "finish")
    assert probe.expect_exit(pid).value == {"final_counter": 3}


def test_every_workflow_this_module_ran_replays_in_another_process(app: App, tmp_path: Path) -> None:
    """Last in the module: updates accepted, rejected and parked, and the continue-as-new an update asks for."""
    assert_every_workflow_replays(app, tmp_path, at_least=4)
