"""Seed 004's workflow configuration and spawn, exactly as the document writes them.

A module of its own: its worker serves task queue "orders" like the examples
app of test_workflows_seeds.py, and one OS process can have one worker per
namespace and queue (workflows find their worker by them).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from actorflow.pytest_plugin import TemporalEnvironment, running_app

APP_DIR = Path(__file__).parent / "apps" / "seed004"
pytestmark = pytest.mark.temporal


def test_seed_004_configuration_and_spawn_as_written(
    tmp_path: Path, temporal_env: TemporalEnvironment
) -> None:
    """The workflow entry has no meta.temporal.workflow.worker; spawning it on the worker works."""
    with running_app(APP_DIR, state_dir=tmp_path / "state", temporal=temporal_env) as app:
        result = app.exec("app:main", {"id": "o-42"}, timeout=60)
    assert result["result"] == {"order": "o-42", "status": "approved"}
    assert result["pid"].startswith("{app:temporal_client@app:temporal_worker|")
