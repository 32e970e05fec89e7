"""Wippy-written checks of errors, calls and modules pass in a process and in a workflow.

``checks.lua`` exercises what Wippy code relies on (issue 17): error kinds,
messages and stacks, ``funcs.call`` errors, ``uuid``, ``json.validate``,
encryption; it fails when a check does not hold, and returns what it saw,
compared here.  Its assert helpers come from a ``library.lua`` through
``imports:``.  The workflow's history replays on another process, and so
does one that uses a ``uuid.v1()`` as an activity ID (issue 13 item 5).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from actorflow.app import App
from actors import Error, Probe, errors

from .wippy_compat_support import APP_DIR, WORKER, assert_replays, compat_app, compat_probe, history

pytestmark = pytest.mark.temporal("dev")


@pytest.fixture(scope="module")
def app(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[App]:
    with compat_app(request, tmp_path_factory) as running:
        yield running


@pytest.fixture
def probe(app: App) -> Iterator[Probe]:
    with compat_probe(app) as probe:
        yield probe


def made_here_line() -> int:
    """The line of checks.lua where its stack test makes its error."""
    lines = (APP_DIR / "checks.lua").read_text().splitlines()
    return next(number for number, line in enumerate(lines, 1) if line.endswith("-- made here"))


def expected_checks() -> dict[str, Any]:
    return {
        "call_kind": errors.NOT_FOUND,
        "call_message": "order 7 not found",
        "encode_kind": errors.INTERNAL,
        "text": "order 9 not found",
        "process_call": 42,
        "async_error": "order 11 not found",
        "v1_version": 1,
        "validation": "validation failed: /email: 'not-an-email' is not a valid email;"
        " /name: text is shorter than 1 characters",
        "stack_line": made_here_line(),
        "stack_source": "checks.lua",
    }


def test_wippy_checks_pass_in_a_process(app: App) -> None:
    result = app.exec("app:checks", timeout=30)
    assert result == expected_checks()  # no "retried": a process does not retry a call


def test_wippy_checks_pass_in_a_workflow_and_replay(app: App, probe: Probe, tmp_path: Path) -> None:
    pid = probe.spawn("app:checks_workflow", host=WORKER, monitor=True)
    exit_event = probe.expect_exit(pid, timeout=60)
    assert exit_event.error is None, exit_event.error
    # Temporal retried the activity's error (retryable unknown) under the policy: true.
    assert exit_event.value == {**expected_checks(), "retried": True}
    # Stacks, kinds, encryption nonces, validation: the same on a replay, on another process.
    assert_replays(app, pid, tmp_path)


@pytest.mark.parametrize(
    ("which", "message"),
    [
        ("equal", "the answer: expected 42 but got 41"),
        ("contain", 'the error: order 7 not found lacks "shipped"'),
        ("falsy", 'a send: expected false or nil but got "sent"'),
    ],
)
def test_the_imported_assert_helpers_fail_the_program(app: App, which: str, message: str) -> None:
    """The checks' expectations come from a library.lua (imports:); a failed one fails the checks."""
    with pytest.raises(Error) as caught:
        app.exec("app:asserts_fail", which, timeout=30)
    assert caught.value.kind() == errors.INVALID
    assert caught.value.message() == message


def test_uuid_v1_in_a_workflow_is_version_1_and_replays(app: App, probe: Probe, tmp_path: Path) -> None:
    pid = probe.spawn("app:uuid_workflow", host=WORKER, monitor=True)
    exit_event = probe.expect_exit(pid, timeout=60)
    assert exit_event.error is None, exit_event.error
    value = exit_event.value
    assert value["version"] == 1 and value["echoed"] == 8
    assert value["id"] != value["second"]

    text = history(app, pid)
    assert f'"activityId":"{value["id"]}"' in text.replace(" ", "")  # the UUID is in the history
    assert_replays(app, pid, tmp_path, text)
