"""SIGINT reaches ``exec`` and ``run`` whichever thread the kernel hands it to.

Python runs signal handlers only on the main thread, between bytecodes; a
process-directed signal may be delivered to any thread, and one delivered to a
worker or to the terminal reader does not interrupt the main thread's wait.
These tests deliver SIGINT to a thread other than the main one (``tgkill``),
which is what happened now and then under load: ``exec`` and ``run`` then
waited for ever.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
from pathlib import Path

from tests.cli_support import ROOT, RunningApp
from tests.test_wippy_cli import MAIN, TERMINAL_APP

from .lua_support import write_app

_SYS_TGKILL = {"x86_64": 234, "aarch64": 131}[os.uname().machine]


def interrupt_a_side_thread(pid: int) -> int:
    """Send SIGINT to one thread of ``pid`` that is not its main thread; that thread's ID."""
    threads = sorted(int(tid) for tid in os.listdir(f"/proc/{pid}/task") if int(tid) != pid)
    assert threads, "the process has no thread besides its main one"
    libc = ctypes.CDLL(None, use_errno=True)
    assert libc.syscall(_SYS_TGKILL, pid, threads[-1], signal.SIGINT) == 0, ctypes.get_errno()
    return threads[-1]


def test_exec_stops_when_sigint_lands_on_another_thread(tmp_path: Path) -> None:
    app = write_app(tmp_path / "cli", TERMINAL_APP, {"main.lua": MAIN})
    process = subprocess.Popen(
        [sys.executable, "-m", "actorflow.cli", "exec", str(app), "app:main"],
        cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert process.stdout is not None and process.stdout.readline() == "waiting for\t0\tlines\n"
        interrupt_a_side_thread(process.pid)
        status = process.wait(15)  # hung for ever before the fix
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.stderr is not None and process.stdin is not None
    err = process.stderr.read()
    process.stdin.close()
    assert status == 130, err
    assert "error: CANCELED: process {app:terminal|" in err


def test_run_stops_when_sigint_lands_on_another_thread(tmp_path: Path) -> None:
    app = write_app(tmp_path / "app", [{"name": "processes", "kind": "process.host"}], {})
    with RunningApp(app, tmp_path / "state") as running:
        interrupt_a_side_thread(running.process.pid)
        status = running.process.wait(15)  # hung for ever before the fix
        assert status == 0, running.output()
