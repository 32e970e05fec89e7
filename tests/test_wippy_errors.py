"""Errors Wippy code reads: a send that cannot be delivered, a result that cannot leave.

A send to a process that has ended is ``NOT_FOUND`` with a message Wippy
code can search, from a process and from a workflow (where a signal to a
missing workflow is a final error too; issue 17 item 3).  A program whose
result holds what cannot leave it (a function, a table key that is not a
string or number) ends with a clear ``INVALID`` naming where (issue 15 item 6).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from actorflow.app import App
from actors import PID, Error, Probe, errors

from .wippy_compat_support import WORKER, compat_app, compat_probe, ended_process

pytestmark = pytest.mark.temporal("dev")


@pytest.fixture(scope="module")
def app(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[App]:
    with compat_app(request, tmp_path_factory) as running:
        yield running


@pytest.fixture
def probe(app: App) -> Iterator[Probe]:
    with compat_probe(app) as probe:
        yield probe


def test_a_send_to_an_ended_process_is_an_error_wippy_code_can_search(app: App, probe: Probe) -> None:
    dead = ended_process(probe)
    result = app.exec("app:sends", str(dead), timeout=30)
    assert result["dead"]["kind"] == errors.NOT_FOUND
    assert "not found" in result["dead"]["text"]


def test_from_a_workflow_a_failed_send_or_signal_is_a_final_error(probe: Probe) -> None:
    dead = ended_process(probe)
    missing = str(PID(WORKER, "no-such-workflow", "app:temporal_client"))
    pid = probe.spawn("app:sends_workflow", str(dead), missing, host=WORKER, monitor=True)
    exit_event = probe.expect_exit(pid, timeout=60)
    assert exit_event.error is None, exit_event.error
    result = exit_event.value
    assert result["dead"]["kind"] == errors.NOT_FOUND
    assert result["signal"] == {"kind": errors.NOT_FOUND, "retryable": False}


@pytest.mark.parametrize(
    ("what", "named"),
    [("function", "the result.handler is a function"), ("key", "the result.flags has a key that is true")],
)
def test_returning_what_cannot_leave_a_process_is_a_clear_error(app: App, what: str, named: str) -> None:
    with pytest.raises(Error) as raised:
        app.exec("app:bad_result", what, timeout=30)
    assert raised.value.kind() == errors.INVALID
    assert named in raised.value.message()


def test_returning_what_cannot_leave_a_workflow_is_a_clear_error(probe: Probe) -> None:
    pid = probe.spawn("app:bad_result_workflow", "function", host=WORKER, monitor=True)
    error = probe.expect_exit(pid, timeout=60).error
    assert error is not None and error.kind() == errors.INVALID
    assert "the result.handler is a function" in error.message()
