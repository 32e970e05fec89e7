"""Unit tests of the Temporal bridge's own parts (no server needed)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import ApplicationError, TerminatedError

from actors import PID, Error, errors
from temporal_bridge.converter import ENCODING, data_converter
from temporal_bridge.failures import from_failure, to_application_error
from temporal_bridge.options import activity_options, workflow_options


def test_the_payload_converter_is_msgpack_and_round_trips_pids_errors_and_tables() -> None:
    converter = data_converter.payload_converter
    value = {
        "pid": PID.parse("{app:temporal_client@app:worker|order-1}"),
        "error": Error(errors.NOT_FOUND, "gone", retryable=False, details={"id": 7}),
        "items": [1, "two", {"three": 3.0}, None, True],
        "blob": b"\x00\xff",
    }
    payload = converter.to_payloads([value])[0]
    assert payload.metadata["encoding"] == ENCODING.encode()
    back = converter.from_payloads([payload])[0]
    assert back == value
    assert converter.to_payloads([None])[0].metadata["encoding"] == b"binary/null"


def test_json_payloads_from_other_tools_still_decode() -> None:
    from temporalio.api.common.v1 import Payload

    payload = Payload(metadata={"encoding": b"json/plain"}, data=b'{"approved": true}')
    assert data_converter.payload_converter.from_payloads([payload])[0] == {"approved": True}


def test_errors_round_trip_through_application_failures() -> None:
    for retryable in (True, False, None):
        err = Error(errors.CONFLICT, "busy", retryable=retryable, details={"n": 1})
        failure = to_application_error(err)
        assert failure.type == "CONFLICT" and failure.non_retryable is (retryable is False)
        back = from_failure(failure)
        assert (back.kind(), back.message(), back.retryable(), back.details()) == (
            "CONFLICT",
            "busy",
            retryable,
            {"n": 1},
        )
    terminated = from_failure(TerminatedError("gone"))
    assert (terminated.kind(), terminated.message(), terminated.retryable()) == (
        "CANCELED",
        "workflow terminated",
        False,
    )
    foreign = from_failure(ApplicationError("raw", type="SomethingElse"))
    assert (foreign.kind(), foreign.message()) == ("SomethingElse", "raw")


def test_workflow_options_accept_both_spellings_durations_and_enums() -> None:
    options = workflow_options(
        {
            "temporal.workflow.execution_timeout": "1h30m",
            "workflow.run_timeout": 5000,
            "temporal.workflow.id_conflict_policy": "Use-Existing",
            "temporal.workflow.id_reuse_policy": "WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE",
            "workflow.id": "canonical",
            "temporal.workflow.id": "alias",
            "network": "ignored: another host's option",
        }
    )
    assert options.execution_timeout == timedelta(hours=1, minutes=30)
    assert options.run_timeout == timedelta(seconds=5)
    assert options.id_conflict_policy == WorkflowIDConflictPolicy.USE_EXISTING
    assert options.id_reuse_policy == WorkflowIDReusePolicy.REJECT_DUPLICATE
    assert options.id == "canonical"  # the canonical key wins over the alias


def test_activity_options_defaults_and_errors() -> None:
    default = activity_options({})
    assert default.start_to_close_timeout == timedelta(minutes=10) and default.retry_policy is None
    parsed = activity_options(
        {"activity.retry_policy": {"maximumAttempts": 1}, "temporal.activity.heartbeat_timeout": "3s"}
    )
    assert parsed.retry_policy is not None and parsed.retry_policy.maximum_attempts == 1
    assert parsed.heartbeat_timeout == timedelta(seconds=3)
    with pytest.raises(Error) as info:
        activity_options({"activity.bogus": 1})
    assert info.value.kind() == errors.INVALID and "activity.bogus" in info.value.message()


def test_tls_and_mtls_settings_become_temporalio_tls_config(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from temporal_bridge.runtime import tls_config

    assert tls_config(None) is False and tls_config({"enabled": False}) is False
    (tmp_path / "ca.pem").write_bytes(b"CA")
    (tmp_path / "client.pem").write_bytes(b"CERT")
    monkeypatch.setenv("CLIENT_KEY", "KEY")
    plain = tls_config({"ca_file": str(tmp_path / "ca.pem"), "server_name": "temporal.example"})
    assert (plain.server_root_ca_cert, plain.domain, plain.client_cert) == (b"CA", "temporal.example", None)
    mtls = tls_config(
        None, {"type": "mtls", "cert_file": str(tmp_path / "client.pem"), "key_pem_env": "CLIENT_KEY"}
    )
    assert (mtls.client_cert, mtls.client_private_key) == (b"CERT", b"KEY")
    with pytest.raises(Error) as info:
        tls_config(None, {"type": "mtls", "cert_pem": "CERT"})
    assert info.value.kind() == errors.INVALID and "key_file, key_pem, key_pem_env" in info.value.message()
    with pytest.raises(Error) as info:
        tls_config({"insecure_skip_verify": True})
    assert "insecure_skip_verify is not supported" in info.value.message()


def test_mtls_without_certificate_or_key_is_reported_at_load(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import temporal_bridge  # noqa: F401 - registers the temporal.* kinds
    from actors.entries import AppLoadError, load_app

    (tmp_path / "app.yaml").write_text(
        "namespace: app\nentries:\n  - name: client\n    kind: temporal.client\n"
        "    address: 'temporal.example:7233'\n    auth: {type: mtls}\n"
    )
    with pytest.raises(AppLoadError) as info:
        load_app(tmp_path)
    assert [str(problem) for problem in info.value.problems] == [
        "app.yaml:3: app:client: auth.type mtls needs the client certificate: cert_file or cert_pem",
        "app.yaml:3: app:client: auth.type mtls needs the client key: key_file, key_pem or key_pem_env",
    ]


def test_a_relayed_send_is_delivered_once_per_key() -> None:
    """A local activity run again for the same workflow step must not deliver twice."""
    import asyncio
    from types import SimpleNamespace
    from unittest import mock

    from actors import Node, Probe
    from temporal_bridge.activities import relay

    with Node() as node, Probe(node) as probe:
        request = {
            "action": "send",
            "target": str(probe.pid),
            "topic": "t",
            "payloads": [1],
            "key": "wf/run/1",
        }

        async def three() -> list[dict[str, object]]:
            return [await relay(request), await relay(request), await relay({**request, "key": "wf/run/2"})]

        # The activity finds its node through the worker's config: a stand-in outside a worker.
        with mock.patch("temporal_bridge.activities._config", return_value=SimpleNamespace(node=node)):
            results = asyncio.run(three())
        assert results == [{"error": None}] * 3
        assert probe.expect_message("t").payload == 1
        assert probe.expect_message("t").payload == 1  # the second key
        probe.expect_nothing(within=0.1)
