"""Wippy modules beyond the core: RS256 tokens, the ``security`` module, logger fields.

``crypto.jwt`` signs and verifies RS256 tokens (a forged one, a wrong
algorithm and an unknown one refused with Wippy's kinds) in a process and
in a workflow; ``security`` answers as a runtime without policies; a
logger field that is a table prints as JSON (issue 17 item 7, issue 15 item 6).
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Iterator

import pytest

from actorflow.app import App
from actors import Probe, errors

from .wippy_compat_support import WORKER, compat_app, compat_probe

pytestmark = pytest.mark.temporal("dev")


@pytest.fixture(scope="module")
def app(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[App]:
    with compat_app(request, tmp_path_factory) as running:
        yield running


@pytest.fixture
def probe(app: App) -> Iterator[Probe]:
    with compat_probe(app) as probe:
        yield probe


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


def test_logger_fields_that_are_tables_print_as_json(app: App, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="actors.lua")
    assert app.exec("app:logs", timeout=30) is True
    [record] = [r for r in caplog.records if r.name == "actors.lua.app:logs"]
    assert record.getMessage() == 'order placed order={"items":["apple","pear"]} total=12'


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
