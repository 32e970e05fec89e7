"""Driving the ``actorflow`` command as a user would: a running ``actorflow run`` and commands against it."""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
READY = "Ctrl-C (or actorflow stop) stops it."


def actorflow(*args: str, timeout: float = 120.0, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    """Run one ``actorflow`` command to its end."""
    return subprocess.run(
        [sys.executable, "-m", "actorflow.cli", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=_env(),
    )


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env.pop("PYTHONWARNINGS", None)
    return env


class RunningApp:
    """``actorflow run APP --state-dir STATE`` in a subprocess, read until its summary is printed."""

    def __init__(self, app: Path, state_dir: Path, *extra: str, ready_timeout: float = 90.0) -> None:
        self.app = app
        self.state_dir = state_dir
        self.process = subprocess.Popen(
            [sys.executable, "-m", "actorflow.cli", "run", str(app), "--state-dir", str(state_dir), *extra],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=_env(),
        )
        self.stdout: list[str] = []
        self.stderr: list[str] = []
        self._lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(
            target=self._pump, args=(self.process.stdout, self.stdout, True), daemon=True
        ).start()
        threading.Thread(
            target=self._pump, args=(self.process.stderr, self.stderr, False), daemon=True
        ).start()
        self.summary = self._wait_ready(ready_timeout)

    def _pump(self, stream: Any, into: list[str], signal_lines: bool) -> None:
        for line in stream:
            into.append(line)
            if signal_lines:
                self._lines.put(line)
        if signal_lines:
            self._lines.put(None)

    def _wait_ready(self, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self._lines.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                self.kill()
                raise AssertionError(f"actorflow run not ready after {timeout} s:\n{self.output()}") from None
            if line is None:
                raise AssertionError(f"actorflow run exited ({self.process.wait()}):\n{self.output()}")
            if line.strip() == READY:
                return "".join(self.stdout)

    def output(self) -> str:
        return "".join(self.stdout) + "\n--- stderr ---\n" + "".join(self.stderr)

    def http_address(self, service: str) -> str:
        match = re.search(rf"^\s+http\s+{re.escape(service)}\s+(http://\S+)", self.summary, re.MULTILINE)
        assert match, self.summary
        return match.group(1)

    def cli(self, *args: str, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
        """An operator command against this app (``--state-dir`` added)."""
        command, rest = args[0], args[1:]
        return actorflow(command, str(self.app), *rest, "--state-dir", str(self.state_dir), timeout=timeout)

    def interrupt(self, timeout: float = 60.0) -> tuple[int, float]:
        """SIGINT; the exit status and how long the stop took."""
        began = time.monotonic()
        self.process.send_signal(signal.SIGINT)
        status = self.process.wait(timeout)
        return status, time.monotonic() - began

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)

    def __enter__(self) -> RunningApp:
        return self

    def __exit__(self, *exc: object) -> None:
        self.kill()


def wait_for(check: Any, timeout: float = 20.0, interval: float = 0.1) -> Any:
    """Call ``check`` until it returns something truthy; that value (AssertionError on timeout)."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s (last: {value!r})")
        time.sleep(interval)
