"""Lua written for Wippy runs on actorflow: issue 17, issue 13 items 5 and 6, issue 15 item 6.

The Lua files in ``apps/wippy_compat`` are written the way Wippy code is (its
errors, calls and modules, with assert helpers as a Wippy test library gives
them); the same files run as process.lua entries and as workflow.lua entries
on the real Temporal dev server.  Each check fails the Lua program when it
does not hold, and the program also returns what it saw, compared here.
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from actorflow.app import App
from actorflow.pytest_plugin import running_app, temporal_environment, wait_until
from actors import PID, Error, Probe, errors

from .replay_support import replay

APP_DIR = Path(__file__).parent / "apps" / "wippy_compat"
WORKER = "app:worker"
HOST = "app:processes"
pytestmark = pytest.mark.temporal("dev")


@pytest.fixture(scope="module")
def app(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[App]:
    state = tmp_path_factory.mktemp("compat-state")
    with running_app(APP_DIR, state_dir=state, temporal=temporal_environment(request)) as running:
        yield running


@pytest.fixture
def probe(app: App) -> Iterator[Probe]:
    assert app.node is not None
    with Probe(app.node, trap_links=True, default_timeout=30) as probe:
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


# -- the checks, in a process and in a workflow -------------------------------------------


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


def history(app: App, pid: PID) -> str:
    runtime = app._started[0]

    async def fetch(client: Any) -> str:
        return (await client.get_workflow_handle(pid.uniq).fetch_history()).to_json()

    return runtime.loop.run(fetch(runtime.clients["app:temporal_client"]), timeout=60)


def assert_replays(app: App, pid: PID, directory: Path, text: str | None = None) -> None:
    path = directory / f"{pid.uniq}.json"
    path.write_text(text if text is not None else history(app, pid))
    replayed = replay(APP_DIR, [path])
    assert replayed.returncode == 0, replayed.stdout + replayed.stderr
    assert "replayed 1 histories, 0 failed" in replayed.stdout


def rsa_pems() -> tuple[str, str, str]:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key, other = (rsa.generate_private_key(public_exponent=65537, key_size=2048) for _ in range(2))
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public, other_public = (
        k.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
        for k in (key, other)
    )
    return private, public, other_public


def test_rs256_tokens_in_a_process_and_a_workflow(app: App, probe: Probe) -> None:
    pems = rsa_pems()
    expected = {
        "sub": "svc",
        "forged": errors.INTERNAL,
        "wrong_alg": errors.INTERNAL,
        "unknown": errors.INVALID,
    }
    in_process = app.exec("app:jwt_rs256", *pems, timeout=30)
    pid = probe.spawn("app:jwt_rs256_workflow", *pems, host=WORKER, monitor=True)
    exit_event = probe.expect_exit(pid, timeout=60)
    assert exit_event.error is None, exit_event.error
    for result in (in_process, exit_event.value):
        header = json.loads(base64.urlsafe_b64decode(result.pop("header") + "=="))
        assert header == {"alg": "RS256", "typ": "JWT", "kid": "k1"}
        assert result == expected


# -- 3. errors read as text: a send that cannot be delivered ---------------------------------


def ended_process(probe: Probe) -> PID:
    pid = probe.spawn("app:double", 1, host=HOST, monitor=True)
    assert probe.expect_exit(pid).value == 2
    return pid


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


# -- issue 13 item 6: future:cancel() stops the function --------------------------------------


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


# -- issue 13 item 6: a caller that ended before its call finished -------------------------


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


# -- issue 13 item 5: uuid.v1() in a workflow replays ------------------------------------------


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


# -- issue 15 item 6: what a program returns, what it logs --------------------------------------


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


def test_logger_fields_that_are_tables_print_as_json(app: App, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="actors.lua")
    assert app.exec("app:logs", timeout=30) is True
    [record] = [r for r in caplog.records if r.name == "actors.lua.app:logs"]
    assert record.getMessage() == 'order placed order={"items":["apple","pear"]} total=12'


# -- the security module ----------------------------------------------------------------------


def test_security_answers_as_a_runtime_without_policies(app: App) -> None:
    assert app.exec("app:security_checks", timeout=30) == {
        "actor": True,
        "scope": True,
        "allowed": True,
        "id": "user:1",
        "role": "admin",
        "policy": errors.NOT_FOUND,
        "contains": True,
    }
