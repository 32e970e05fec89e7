"""``funcs`` calls Wippy code makes: cancelled futures, callers that leave early (issue 13 item 6).

``future:cancel()`` ends the called function: its process in a process, the
activity (at its next heartbeat) in a workflow.  A call whose caller ended
first (``funcs.async`` left behind, or a ``funcs.call`` whose caller was
terminated) finishes quietly: no error logged by its exit callbacks.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from actorflow.app import App
from actorflow.pytest_plugin import wait_until
from actors import PID, Probe, errors

from .wippy_compat_support import HOST, WORKER, compat_app, compat_probe

pytestmark = pytest.mark.temporal("dev")


@pytest.fixture(scope="module")
def app(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[App]:
    with compat_app(request, tmp_path_factory) as running:
        yield running


@pytest.fixture
def probe(app: App) -> Iterator[Probe]:
    with compat_probe(app) as probe:
        yield probe


def test_future_cancel_terminates_the_called_function_in_a_process(app: App, probe: Probe) -> None:
    assert app.node is not None
    result = app.exec("app:cancel_call", str(probe.pid), timeout=30)
    callee = PID.parse(result.pop("callee"))
    assert result == {"canceled": True, "is_canceled": True, "result_is_nil": True, "kind": errors.CANCELED}
    assert probe.expect_message("callee").payload == str(callee)
    wait_until(lambda: not app.node.is_alive(callee), timeout=5)  # it would sleep for a minute


def test_future_cancel_cancels_the_activity_in_a_workflow(app: App, probe: Probe) -> None:
    assert app.node is not None
    pid = probe.spawn("app:cancel_call_workflow", str(probe.pid), host=WORKER, monitor=True)
    callee = PID.parse(probe.expect_message("callee").payload)
    exit_event = probe.expect_exit(pid, timeout=60)
    assert exit_event.error is None, exit_event.error
    assert exit_event.value["canceled"] is True and exit_event.value["kind"] == errors.CANCELED
    # The activity learns of the cancel at its next heartbeat and its process ends.
    wait_until(lambda: not app.node.is_alive(callee), timeout=20)


def no_exit_callback_failure(caplog: pytest.LogCaptureFixture) -> None:
    failures = [
        record
        for record in caplog.records
        if record.name.startswith("actors")
        and (record.exc_info is not None or record.levelno >= logging.ERROR)
    ]
    assert failures == [], [record.getMessage() for record in failures]


def test_a_funcs_async_that_outlives_its_caller_finishes_quietly(
    app: App, probe: Probe, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    assert app.exec("app:leaves_early", str(probe.pid), "async", timeout=30) == "left"
    callee = PID.parse(probe.expect_message("callee").payload)
    probe.monitor(callee)
    probe.send(callee, "go")
    assert probe.expect_exit(callee).value == "finished"  # after its exit callbacks ran
    no_exit_callback_failure(caplog)


def test_a_funcs_call_whose_caller_was_terminated_finishes_quietly(
    probe: Probe, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    caller = probe.spawn("app:leaves_early", str(probe.pid), "call", host=HOST, monitor=True)
    callee = PID.parse(probe.expect_message("callee").payload)
    probe.terminate(caller)
    assert probe.expect_exit(caller).error is not None
    probe.monitor(callee)
    probe.send(callee, "go")
    assert probe.expect_exit(callee).value == "finished"
    no_exit_callback_failure(caplog)
