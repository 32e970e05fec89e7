"""``actorflow run`` and ``actorflow exec``: start an app, serve it, stop it on a signal.

Both share one shutdown: the first SIGINT or SIGTERM stops the app in
reverse dependency order (each unit within its ``stop_timeout``, one
level's units in parallel); a second SIGINT exits at once.  A shutdown that
overruns its budget (the ``stop_timeout`` of every level, added up) is cut
short and the process exits anyway: a workflow stuck in a loop, say, never
keeps the command from returning.
"""

from __future__ import annotations

import math
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from actorflow._tables import format_summary
from actorflow.app import App
from actorflow.control import ControlServer
from actors import errors

__all__ = ["ExecOutcome", "Signals", "exec_entry", "run_app", "stop_app", "summary"]

EXTRA_STOP_SECONDS = 5.0
"""Time past the stop budget allowed for the node, the Temporal loop and the dev server."""

CANCEL_WAIT = 5.0
"""How long ``exec`` waits for a workflow it cancelled to finish its compensation."""


SIGNAL_SLICE = 0.1
"""Longest the main thread blocks at a time: Python runs signal handlers only on the main
thread, between bytecodes, and a signal the kernel hands to another thread (a worker, a
terminal reader) does not interrupt the main thread's wait: it would wait for ever."""


def wait_for(event: threading.Event, timeout: float | None = None) -> bool:
    """``event.wait(timeout)`` in slices, so SIGINT/SIGTERM handlers run promptly on the main thread."""
    deadline = None if timeout is None else time.monotonic() + timeout
    while not event.is_set():
        if deadline is None:
            event.wait(SIGNAL_SLICE)
            continue
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        event.wait(min(remaining, SIGNAL_SLICE))
    return True


class Signals:
    """SIGINT/SIGTERM: the first asks for a stop, a second SIGINT exits at once."""

    def __init__(self) -> None:
        self.requested = threading.Event()
        self._count = 0

    def install(self) -> Signals:
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGINT, self._handle)
            signal.signal(signal.SIGTERM, self._handle)
        return self

    def _handle(self, signum: int, frame: Any) -> None:
        self._count += 1
        if self._count > 1 and signum == signal.SIGINT:
            os.write(2, b"\xc2\xb7 interrupted again: exiting now\n")
            os._exit(130)
        self.requested.set()

    def request(self) -> None:
        self.requested.set()


def stop_app(app: App, progress: Callable[[str], None]) -> bool:
    """Stop ``app`` within its stop budget; False when it had to be cut short."""
    budget = app.runner.stop_budget() + EXTRA_STOP_SECONDS
    done = threading.Event()

    def run() -> None:
        try:
            app.stop()
        finally:
            done.set()

    began = time.monotonic()
    threading.Thread(target=run, name="actorflow-stop", daemon=True).start()
    clean = wait_for(done, budget)
    if clean:
        progress(f"stopped in {time.monotonic() - began:.2f} s")
    else:
        progress(f"still stopping after {budget:.0f} s: exiting without waiting for the rest")
    # A unit left behind (a Temporal worker waiting for a stuck workflow) must not
    # leave its embedded server running after we exit.
    for server in list(getattr(app.temporal, "servers", {}).values()):
        try:
            server.stop(timeout=2.0)
        except Exception:
            pass
    return clean


def summary(app: App) -> dict[str, Any]:
    """What runs: hosts, Temporal (clients, workers, Web UI), services, HTTP addresses, the rest."""
    from actorflow._cluster import ClusterUnit
    from actorflow._python import PythonServiceUnit
    from actorflow._units import HostUnit, TemporalUnit
    from actorflow.http import HttpServiceUnit

    result: dict[str, Any] = {"app": str(app.path), "pid": os.getpid(), "hosts": [], "http": [], "other": []}
    states = app.runner.states
    for unit in app.units:
        if states.get(unit.id) != "running":
            continue
        if isinstance(unit, HostUnit):
            result["hosts"].append(unit.describe())
        elif isinstance(unit, TemporalUnit):
            result["temporal"] = unit.describe()
        elif isinstance(unit, HttpServiceUnit):
            result["http"].append(unit.describe())
        elif isinstance(unit, PythonServiceUnit):
            result["other"].append({"kind": "python", "id": unit.id, "state": "running"})
        elif isinstance(unit, ClusterUnit):
            result["cluster"] = unit.describe()
        elif callable(getattr(unit, "summary_row", None)):  # a package's own units (wippy_compat's)
            result["other"].append(unit.summary_row())
    if app.services is not None:
        result["services"] = [
            {"id": state["id"], "state": state["state"], "restarts": state["restarts"]}
            for state in app.services.status()
        ]
    result["failed"] = [
        {"id": unit_id, "kind": error.kind(), "message": error.message()}
        for unit_id, error in app.runner.failures.items()
    ]
    result["control"] = str(app.state_dir / "control.sock")
    return result


def run_app(
    app: App, progress: Callable[[str], None], out: Callable[[str], None], signals: Signals
) -> tuple[int, bool]:
    """Start ``app``, serve until a signal or ``actorflow stop``, stop; ``(status, clean)``."""
    began = time.monotonic()
    app.start(abort=signals.requested)
    cluster = app.cluster
    if cluster is not None:  # a node cut off from its cluster stops (status 1): restarted, it rejoins
        cluster.on_fenced(lambda error: (progress(f"{error.message()}; stopping"), signals.request()))
    control = ControlServer(app, on_stop=signals.request, summary=lambda: summary(app))
    try:
        control.start()
        info = summary(app)
        out(
            f"actorflow: {app.path.name} running (pid {os.getpid()}, started in {time.monotonic() - began:.1f} s)\n"
            f"{format_summary(info)}\n"
            "Ctrl-C (or actorflow stop) stops it."
        )
        wait_for(signals.requested)
    finally:
        control.stop()
    progress("stopping")
    clean = stop_app(app, progress)
    return (1 if cluster is not None and cluster.fenced is not None else 0), clean


class ExecOutcome:
    """How an ``exec`` ended: its value, its error, or a timeout / interrupt."""

    def __init__(self) -> None:
        self.done = threading.Event()
        self.value: Any = None
        self.error: errors.Error | None = None

    def __call__(self, value: Any, error: errors.Error | None) -> None:
        self.value, self.error = value, error
        self.done.set()


def exec_entry(
    app: App,
    entry_id: str,
    args: list[Any],
    *,
    host: str | None,
    timeout: float | None,
    on_timeout: str,
    signals: Signals,
    progress: Callable[[str], None],
) -> ExecOutcome:
    """Run one entry to completion in a started app, bounded by ``timeout`` and the signals.

    On a timeout or an interrupt a workflow is cancelled (its compensation
    runs; ``exec`` waits a little for it) or, with ``on_timeout="leave"``,
    left running; a process is cancelled and, if it does not end, terminated.
    The outcome's error is then ``TIMEOUT`` (or ``CANCELED`` for an interrupt).
    """
    outcome = ExecOutcome()
    wake = threading.Event()

    def ended(value: Any, error: errors.Error | None) -> None:
        outcome(value, error)
        wake.set()

    node = app.require_node()
    pid = app.start_entry(entry_id, tuple(args), host, ended)
    threading.Thread(target=lambda: (signals.requested.wait(), wake.set()), daemon=True).start()
    deadline = None if timeout is None else time.monotonic() + timeout
    while not outcome.done.is_set():
        remaining = None if deadline is None else deadline - time.monotonic()
        if remaining is not None and remaining <= 0:
            break
        wait_for(wake, remaining)
        if signals.requested.is_set():
            break
    if outcome.done.is_set():
        return outcome
    interrupted = signals.requested.is_set()
    why = "interrupted" if interrupted else f"still running after {timeout:g} s"
    workflow = app.is_workflow(entry_id)
    if workflow and on_timeout == "leave":
        message = f"workflow {pid} {why}: left running (it goes on when the app runs again)"
    elif workflow:
        progress(f"workflow {pid} {why}: cancelling it (its compensation runs)")
        try:
            node.cancel(pid)
        except errors.Error:
            pass
        if wait_for(outcome.done, CANCEL_WAIT):
            message = f"workflow {pid} {why}: cancelled, it ended ({_ending(outcome)})"
        else:
            message = f"workflow {pid} {why}: cancel requested; it finishes when the app runs again"
    else:
        try:
            node.cancel(pid, deadline=2.0, reason="exec stopped waiting")
        except errors.Error:
            pass
        wait_for(outcome.done, 3.0)
        message = f"process {pid} {why}: cancelled"
    result = ExecOutcome()
    result.error = errors.Error(errors.CANCELED if interrupted else errors.TIMEOUT, message)
    result.done.set()
    return result


def _ending(outcome: ExecOutcome) -> str:
    if outcome.error is not None:
        return f"{outcome.error.kind()}: {outcome.error.message()}"
    return "normally"


def positive_seconds(text: str) -> float:
    """``--timeout`` values: finite, positive seconds."""
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"not a number of seconds: {text!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"must be a positive, finite number of seconds, got {text}")
    return value


def write_out(text: str) -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()
