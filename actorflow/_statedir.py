"""An app's state directory: owner-only, and used by one run at a time.

The state directory holds the embedded Temporal server's SQLite file and the
control socket of ``actorflow run``.  Two runs on one state directory would
stop each other's Temporal server and fight over the socket, so a run holds
an exclusive ``flock`` on ``actorflow.lock`` for as long as it lives (the
kernel drops it when the process dies, even by ``kill -9``); a second run is
refused with a message naming the first one's PID.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from actors import errors

__all__ = ["CONTROL_SOCKET", "LOCK_FILE", "StateLock", "lock_holder", "prepare_state_dir"]

LOCK_FILE = "actorflow.lock"
CONTROL_SOCKET = "control.sock"


def prepare_state_dir(path: Path) -> Path:
    """Create ``path`` (mode 0700) if needed and make it owner-only; the path."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    if path.stat().st_mode & 0o077:
        os.chmod(path, 0o700)
    return path


class StateLock:
    """The exclusive lock of one run on a state directory."""

    def __init__(self, state_dir: Path) -> None:
        self.state_dir = state_dir
        self.path = state_dir / LOCK_FILE
        self._fd: int | None = None

    def acquire(self) -> None:
        """Take the lock, or raise ``CONFLICT`` naming the run that holds it."""
        if self._fd is not None:
            return
        prepare_state_dir(self.state_dir)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_pid(fd)
            os.close(fd)
            who = f" (pid {holder})" if holder else ""
            raise errors.Error(
                errors.CONFLICT,
                f"state directory {self.state_dir} is in use by another actorflow run{who}: "
                "stop it first (actorflow stop APP_DIR), or give this one another --state-dir",
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            try:
                os.ftruncate(fd, 0)
            finally:
                os.close(fd)  # closing drops the flock

    @property
    def held(self) -> bool:
        return self._fd is not None


def lock_holder(state_dir: Path) -> int | None:
    """The PID of the run holding ``state_dir``'s lock, or None when no run holds it."""
    try:
        fd = os.open(state_dir / LOCK_FILE, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return _read_pid(fd) or -1
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


def _read_pid(fd: int) -> int | None:
    try:
        return int(os.pread(fd, 32, 0).split()[0])
    except (OSError, ValueError, IndexError):
        return None
