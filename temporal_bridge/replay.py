"""Replaying recorded workflow histories against an app's current Lua code.

``python -m temporal_bridge.replay APP_DIR HISTORY.json ...`` replays each
history (the JSON that ``temporal workflow show --output json`` or
``WorkflowHandle.fetch_history().to_json()`` gives) through temporalio's
``Replayer`` with the same dynamic Lua workflow the workers run.  It exits 0
when every history replays without a nondeterminism error, 1 otherwise and
says which failed: run it before deploying a change to workflow code.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

import temporal_bridge  # noqa: F401  (registers the workflow kinds)
from actors.entries import load_app
from temporal_bridge import _workers
from temporal_bridge.converter import data_converter
from temporal_bridge.interceptors import ActorflowInterceptor
from temporal_bridge.runtime import worker_config, workflow_runner
from temporal_bridge.workflow import LuaWorkflow

__all__ = ["main", "replay_histories"]

REPLAY_NAMESPACE = "default"


async def replay_histories(
    app_dir: str | Path, histories: Sequence[WorkflowHistory]
) -> list[tuple[str, str | None]]:
    """``(workflow_id, failure or None)`` for each history."""
    registry = load_app(app_dir)
    configs = [
        worker_config(registry, entry, REPLAY_NAMESPACE) for entry in registry.of_kind("temporal.worker")
    ]
    for config in configs:
        _workers.register(config)
    try:
        replayer = Replayer(
            workflows=[LuaWorkflow],
            namespace=REPLAY_NAMESPACE,
            data_converter=data_converter,
            interceptors=[ActorflowInterceptor()],
            workflow_runner=workflow_runner(),
        )
        outcome = []
        async with replayer.workflow_replay_iterator(_iterate(histories)) as results:
            async for result in results:
                failure = result.replay_failure
                outcome.append((result.history.workflow_id, repr(failure) if failure is not None else None))
        return outcome
    finally:
        for config in configs:
            _workers.unregister(config)


async def _iterate(histories: Sequence[WorkflowHistory]):  # type: ignore[no-untyped-def]
    for history in histories:
        yield history


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) < 2:
        print("usage: python -m temporal_bridge.replay APP_DIR HISTORY.json ...", file=sys.stderr)
        return 2
    app_dir, paths = args[0], args[1:]
    histories = [
        WorkflowHistory.from_json(Path(path).stem, Path(path).read_text(encoding="utf-8")) for path in paths
    ]
    results = asyncio.run(replay_histories(app_dir, histories))
    failed = [(workflow_id, failure) for workflow_id, failure in results if failure is not None]
    for workflow_id, failure in results:
        print(f"{'FAIL' if failure else 'ok  '} {workflow_id}{': ' + failure if failure else ''}")
    print(f"replayed {len(results)} histories, {len(failed)} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    status = main()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)  # temporalio can crash at interpreter exit (sdk-python issue 300)
