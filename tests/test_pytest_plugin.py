"""actorflow's pytest plugin, as a user meets it: plain ``pytest`` runs in another process.

The user's project is examples/testing (a supervision tree and a workflow
that sleeps for days) copied to a temporary directory, so nothing of this
suite (conftest, rootdir, sys.path) helps it: only the installed plugin.
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

from actorflow.pytest_plugin import EXTERNAL, TemporalEnvironment
from actors.entries import load_app
from temporal_bridge.server import DevServer

EXAMPLE = Path(__file__).parent.parent / "examples" / "testing"

CRASH_AT_EXIT = """\
import atexit
import os

# Stands for temporalio's crash at interpreter exit (sdk-python issue 300).
atexit.register(os.abort)
"""

pytestmark = pytest.mark.temporal


def user_project(tmp_path: Path, *, crash_at_exit: bool = False) -> Path:
    project = tmp_path / "project"
    shutil.copytree(EXAMPLE, project, ignore=shutil.ignore_patterns("__pycache__", ".pytest_cache"))
    if crash_at_exit:
        (project / "conftest.py").write_text(CRASH_AT_EXIT)
    return project


def pytest_in(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``python -m pytest ARGS`` in ``project``, as a user runs it."""
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", *args],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=240,
    )


def summary(run: subprocess.CompletedProcess[str]) -> str:
    lines = [line for line in run.stdout.splitlines() if line.strip()]
    return lines[-1] if lines else ""


def test_the_users_tests_pass_and_a_crash_at_exit_does_not_turn_them_red(tmp_path: Path) -> None:
    project = user_project(tmp_path, crash_at_exit=True)
    run = pytest_in(project)
    assert run.returncode == 0, run.stdout + run.stderr
    assert summary(run).startswith("4 passed"), run.stdout
    # The same run without the plugin's guard dies of the crash: the guard is what keeps it green.
    unguarded = pytest_in(project, "-o", "actorflow_hard_exit=false")
    assert summary(unguarded).startswith("4 passed"), unguarded.stdout
    assert unguarded.returncode < 0, unguarded.returncode  # killed by SIGABRT


def test_a_failing_user_test_makes_pytest_exit_1(tmp_path: Path) -> None:
    project = user_project(tmp_path, crash_at_exit=True)
    (project / "test_wrong.py").write_text(
        textwrap.dedent(
            """\
            import pytest


            @pytest.mark.temporal("time-skipping")
            def test_a_wrong_expectation(app, probe):
                trial = probe.spawn("app:trial_workflow", {"customer": "ada", "days": 1, "price": 9},
                                    host="app:worker", monitor=True)
                assert probe.expect_exit(trial).value["status"] == "cancelled"
            """
        )
    )
    run = pytest_in(project, "test_wrong.py")
    assert run.returncode == 1, run.stdout + run.stderr
    assert summary(run).startswith("1 failed"), run.stdout
    assert "assert 'charged' == 'cancelled'" in run.stdout


def test_without_temporal_a_marked_test_fails_at_setup_and_is_never_skipped(tmp_path: Path) -> None:
    project = user_project(tmp_path)
    run = pytest_in(project, "--temporal=127.0.0.1:1", "-rA")
    assert run.returncode == 1, run.stdout + run.stderr
    assert summary(run).startswith("3 passed, 1 error"), run.stdout
    assert "skipped" not in run.stdout
    assert "ERROR at setup of test_a_cancelled_trial_is_not_charged" in run.stdout
    assert "Temporal is not available (--temporal=127.0.0.1:1): nothing answers at 127.0.0.1:1" in run.stdout
    # The Python-only tests run, and so does the test that names its server (time-skipping).
    assert "PASSED test_my_app.py::test_a_crashed_cashier_is_replaced" in run.stdout
    assert "PASSED test_my_app.py::test_a_trial_is_charged_after_fourteen_days" in run.stdout


def test_a_bad_temporal_option_is_a_usage_error(tmp_path: Path) -> None:
    run = pytest_in(user_project(tmp_path), "--temporal=nowhere")
    assert run.returncode == 4, run.stdout + run.stderr
    assert "--temporal='nowhere': expected dev, time-skipping or HOST:PORT" in run.stderr


def test_an_existing_server_gets_the_apps_and_their_search_attributes(tmp_path: Path) -> None:
    with DevServer(tmp_path / "server", persistent=False) as server:
        run = pytest_in(user_project(tmp_path), f"--temporal={server.address}")
        assert run.returncode == 0, run.stdout + run.stderr
        assert summary(run).startswith("4 passed"), run.stdout

        app_dir = tmp_path / "app"
        app_dir.mkdir()
        client_entry = {
            "name": "temporal_client",
            "kind": "temporal.client",
            "address": "prod.example:7233",
            "search_attributes": {"customer_id": "Keyword", "order_total": "Double", "tags": "KeywordList"},
        }
        (app_dir / "app.yaml").write_text(yaml.safe_dump({"namespace": "app", "entries": [client_entry]}))
        registry = load_app(app_dir)
        TemporalEnvironment(EXTERNAL, server.address).configure(registry)
        assert registry.require("app:temporal_client").get("address") == server.address
        assert search_attribute_types(server.address) >= {
            ("customer_id", "INDEXED_VALUE_TYPE_KEYWORD"),
            ("order_total", "INDEXED_VALUE_TYPE_DOUBLE"),
            ("tags", "INDEXED_VALUE_TYPE_KEYWORD_LIST"),
        }


def search_attribute_types(address: str) -> set[tuple[str, str]]:
    from temporalio.api.enums.v1 import IndexedValueType
    from temporalio.api.operatorservice.v1 import ListSearchAttributesRequest
    from temporalio.client import Client

    async def listed() -> set[tuple[str, str]]:
        client = await Client.connect(address)
        known = await client.operator_service.list_search_attributes(
            ListSearchAttributesRequest(namespace="default")
        )
        return {(name, IndexedValueType.Name(kind)) for name, kind in known.custom_attributes.items()}

    return asyncio.run(listed())


def test_the_temporal_option_values() -> None:
    assert TemporalEnvironment.parse("dev") == TemporalEnvironment("dev")
    assert TemporalEnvironment.parse("time-skipping") == TemporalEnvironment("time-skipping")
    assert TemporalEnvironment.parse("localhost:7233") == TemporalEnvironment(EXTERNAL, "localhost:7233")
    for bad in ("", "prod", "host:", ":7233", "host:0", "host:70000", "host:port"):
        with pytest.raises(ValueError, match="expected dev, time-skipping or HOST:PORT"):
            TemporalEnvironment.parse(bad)


def test_a_pytest_run_nested_in_this_one_leaves_the_process_alone(pytester: pytest.Pytester) -> None:
    """Only the outermost session ends the process: an inner one (failing, with temporalio
    imported) returns its status to its caller.  Were it to leave with it, this whole
    suite would stop here with status 1."""
    pytester.makepyfile("import temporalio\n\n\ndef test_inner():\n    assert False\n")
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    assert result.ret == 1
    result.assert_outcomes(failed=1)
