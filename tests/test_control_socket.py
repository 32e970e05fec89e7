"""Only the user who started an app may use its control socket (issue 14).

Two walls, each checked on its own against a real ``actorflow run``: the
file system (the state directory 0700, the socket 0600, whatever the umask
``run`` started with), and the peer's credentials (``SO_PEERCRED``), which
refuse a connection from another user even when the file system would let
it through.  The other user is real: a child process that gave up root for
``nobody``, so these tests need root.
"""

from __future__ import annotations

import json
import os
import socket
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from actorflow.control import request, socket_path

from .cli_support import RunningApp

NOBODY = 65534
needs_root = pytest.mark.skipif(
    os.getuid() != 0, reason="connecting as another user needs root (setuid to nobody)"
)


@pytest.fixture
def running() -> Iterator[RunningApp]:
    """``actorflow run`` of an app with one host, started with umask 0 in a directory any user
    may pass through (so only the app's own modes stand between another user and the socket)."""
    with tempfile.TemporaryDirectory(prefix="actorflow-control-") as top:
        base = Path(top)
        os.chmod(base, 0o711)
        app = base / "app"
        app.mkdir()
        (app / "app.yaml").write_text("namespace: app\nentries:\n  - {name: processes, kind: process.host}\n")
        state = base / "state"
        state.mkdir(mode=0o777)
        os.chmod(state, 0o777)  # a state directory anybody could use: run must close it
        previous = os.umask(0)
        try:
            started = RunningApp(app, state)
        finally:
            os.umask(previous)
        with started:
            yield started
            status, _ = started.interrupt()
            assert status == 0, started.output()


def connect_as(uid: int, path: Path) -> dict[str, Any]:
    """Connect to ``path`` from a child process running as ``uid`` and ask ``ping``.

    The answer as ``{"reply": …}``, or ``{"refused": errno}`` when the connection itself fails.
    """
    read_end, write_end = os.pipe()
    child = os.fork()
    if child == 0:  # only system calls here, then _exit: the child never returns into pytest
        outcome: dict[str, Any]
        try:
            os.close(read_end)
            os.setgroups([])
            os.setgid(uid)
            os.setuid(uid)
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
                sock.settimeout(20)
                try:
                    sock.connect(str(path))
                except OSError as exc:
                    outcome = {"refused": exc.errno}
                else:
                    sock.sendall(b'{"op": "ping"}\n')
                    data = b""
                    while not data.endswith(b"\n"):
                        chunk = sock.recv(65536)
                        if not chunk:
                            break
                        data += chunk
                    outcome = {"reply": json.loads(data) if data else None}
        except BaseException as exc:
            outcome = {"child_failed": repr(exc)}
        os.write(write_end, json.dumps(outcome).encode())
        os._exit(0)
    os.close(write_end)
    chunks = []
    while chunk := os.read(read_end, 65536):
        chunks.append(chunk)
    os.close(read_end)
    os.waitpid(child, 0)
    return json.loads(b"".join(chunks))


def test_the_state_directory_and_the_socket_are_the_owners_only_whatever_the_umask(
    running: RunningApp,
) -> None:
    sock = socket_path(running.state_dir)
    assert stat.S_ISSOCK(sock.stat().st_mode)
    assert stat.S_IMODE(running.state_dir.stat().st_mode) == 0o700
    assert stat.S_IMODE(sock.stat().st_mode) == 0o600
    assert sock.stat().st_uid == os.getuid()
    assert request(running.state_dir, "ping")["pid"] == running.process.pid


@needs_root
def test_another_user_cannot_reach_the_socket_through_the_file_system(running: RunningApp) -> None:
    assert connect_as(NOBODY, socket_path(running.state_dir)) == {"refused": 13}  # EACCES


@needs_root
def test_another_user_that_reaches_the_socket_is_refused_by_its_credentials(running: RunningApp) -> None:
    """The file system opened on purpose: the peer-credential check alone refuses ``nobody``."""
    sock = socket_path(running.state_dir)
    os.chmod(running.state_dir, 0o711)
    os.chmod(sock, 0o666)
    assert connect_as(NOBODY, sock) == {
        "reply": {"ok": False, "error": {"kind": "PERMISSION_DENIED", "message": "not your app"}}
    }
    # The same open socket still serves its owner: the refusal was about the user.
    assert connect_as(os.getuid(), sock)["reply"]["result"]["pid"] == running.process.pid
