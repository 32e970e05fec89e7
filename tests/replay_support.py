"""Replaying recorded workflow histories in a fresh OS process (python -m temporal_bridge.replay)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def replay(app_dir: Path, histories: Iterable[Path]) -> subprocess.CompletedProcess[str]:
    """Replay the history files against ``app_dir``'s code, in another process on UTC."""
    return subprocess.run(
        [sys.executable, "-m", "temporal_bridge.replay", str(app_dir), *map(str, histories)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
    )


def assert_all_replay(app_dir: Path, histories_json: list[str], directory: Path) -> None:
    """Write each history (JSON text) to ``directory`` and replay them all: none may fail."""
    assert histories_json, "no history to replay"
    files = []
    for index, text in enumerate(histories_json):
        files.append(directory / f"history-{index}.json")
        files[-1].write_text(text)
    result = replay(app_dir, files)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"replayed {len(files)} histories, 0 failed" in result.stdout
