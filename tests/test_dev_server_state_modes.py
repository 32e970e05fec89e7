"""The embedded Temporal server's state is its owner's only (issue 12, defect 14).

The dev server's SQLite database (workflow inputs and results), its
write-ahead log, the server log and the PID file were world-readable
(0644).  Against the real ``temporal`` binary: directories are 0700, files
0600, whatever the umask, and an older state dir is tightened at start.
"""

from __future__ import annotations

import os
import stat
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from temporal_bridge.server import DevServer


@pytest.fixture
def open_umask() -> Iterator[None]:
    """The usual umask (022): files anybody may read unless the code says otherwise."""
    previous = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(previous)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def wait_for(path: Path, timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists():
            return True
        time.sleep(0.05)
    return False


def file_modes(directory: Path) -> dict[str, int]:
    return {child.name: mode(child) for child in directory.iterdir() if child.is_file()}


def test_a_started_server_keeps_its_state_private(tmp_path: Path, open_umask: None) -> None:
    state_dir = tmp_path / ".actorflow" / "temporal" / "temporal_client"
    with DevServer(state_dir) as server:
        # The server writes its namespace at start: the database and its WAL appear.
        assert wait_for(server.db_file)
        assert wait_for(state_dir / "temporal.sqlite-wal")
        modes = file_modes(state_dir)
        assert {
            "temporal.sqlite",
            "temporal.sqlite-wal",
            "temporal-server.log",
            "temporal-server.pid",
        } <= set(modes)
        assert modes == dict.fromkeys(modes, 0o600)
    for directory in (tmp_path / ".actorflow", tmp_path / ".actorflow" / "temporal", state_dir):
        assert mode(directory) == 0o700, directory
    assert file_modes(state_dir) == dict.fromkeys(file_modes(state_dir), 0o600)


def test_an_open_state_dir_from_an_older_version_is_tightened(tmp_path: Path, open_umask: None) -> None:
    state_dir = tmp_path / "state"
    state_dir.mkdir(mode=0o755)
    state_dir.chmod(0o755)
    log = state_dir / "temporal-server.log"
    log.write_text("an old log\n")
    log.chmod(0o644)
    with DevServer(state_dir, persistent=False):
        assert mode(state_dir) == 0o700
        assert mode(log) == 0o600
        assert log.read_text().startswith("an old log\n")  # appended to, not replaced
