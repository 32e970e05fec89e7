"""Durability under faults (issue 12, "Then prove it", 2): sagas survive killed workers and a server restart.

Three kinds of OS process, as in production:

* the Temporal dev server (:class:`temporal_bridge.DevServer`, SQLite state
  in a file), started here and restarted once, on the same file and port,
  while the sagas are in flight;
* the worker (``tests/durability_worker.py``: the app in
  ``tests/apps/durability`` pointed at that server), SIGKILLed three times
  and started again each time; its five steps append every run to a SQLite
  ledger keyed by workflow ID, step and run number;
* this process, the client: it starts the sagas and sends each of them eight
  numbered signals, in four rounds of two, three of the rounds while no
  worker runs.

Each fault is triggered by a condition, never after a sleep: the worker is
killed when a step's wave of activities is under way (a quarter of the sagas
have begun the step, and the ledger shows a run of the worker begun less than
half a step ago, still running), the server restarted likewise::

    worker 1  reserve wave ── KILL 1 ── signals 1-2 sent (no worker)
    worker 2  charge wave  ── KILL 2 ── signals 3-4 sent (no worker)
    worker 3  pack wave    ── SERVER RESTART ── signals 5-6 sent ── ship wave ── KILL 3
                                        ── signals 7-8 sent (no worker)
    worker 4  the rest: every saga completes

Afterwards :func:`verify` checks the ledger against the sagas' results and
Temporal's histories: every step of every saga ran and its last run is the
one Temporal recorded (the result's receipt names that run; the history's
completed attempt ran in that worker, and counts at least as many attempts as
the ledger has runs); a step that ran more than once did so only because a
fault hit its earlier run (in flight, or finished but not yet recorded, when
its worker was killed or the server stopped); the signals arrived in the
order sent, in the workflow and in the history.

``make test`` runs a bounded scenario (``tests/test_durability_faults.py``);
the issue's numbers run with::

    .venv/bin/python tests/durability_scenario.py --sagas 200

(``--json`` for the report as JSON; exit status 1 when a check fails).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from temporalio.api.enums.v1 import EventType  # noqa: E402
from temporalio.client import Client, WorkflowHandle  # noqa: E402

from temporal_bridge import DevServer, data_converter  # noqa: E402
from temporal_bridge.interceptors import ActorflowInterceptor  # noqa: E402

WORKER_SCRIPT = ROOT / "tests" / "durability_worker.py"
WORKFLOW = "app:saga"
TASK_QUEUE = "durability"
STEPS = ("reserve", "charge", "pack", "ship", "deliver")
SIGNALS_PER_STEP = 2
SIGNALS = SIGNALS_PER_STEP * (len(STEPS) - 1)
START_TO_CLOSE = 4.0
"""The steps' start-to-close timeout (``saga.lua``): a run can go unrecorded for at most this long."""
WORKFLOW_TASK_TIMEOUT = timedelta(seconds=5)
"""A workflow task lost with a killed worker is retried after 5 s instead of 10."""


class ScenarioError(AssertionError):
    """The scenario could not go on: a condition it waited for never came."""


# -- the ledger ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Run:
    """One run of a step, as the ledger recorded it."""

    workflow_id: str
    step: str
    run: int
    worker: int
    began: float
    ended: float | None


def read_ledger(path: Path) -> list[Run]:
    if not path.exists():
        return []
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=60)
    try:
        rows = connection.execute(
            "SELECT workflow_id, step, run, worker, began, ended FROM runs ORDER BY workflow_id, step, run"
        ).fetchall()
    except sqlite3.OperationalError:  # the worker has not created the table yet
        return []
    finally:
        connection.close()
    return [Run(*row) for row in rows]


# -- faults ------------------------------------------------------------------------------------------


@dataclass
class Fault:
    """A worker SIGKILLed, or the server stopped and started again, while a step's wave ran."""

    kind: str  # "kill" or "server restart"
    step: str
    began: float
    ended: float
    worker: int | None = None  # the killed worker's PID
    in_flight: int = 0  # runs begun and not ended, by the ledger, when the fault came
    interrupted: int = 0  # runs it stopped mid-step (a kill: its worker's runs that never ended)
    ended_across: int = 0  # runs that ended while the server was down (a restart)

    def hit(self, run: Run) -> bool:
        """Whether this fault can explain why ``run`` went unrecorded in Temporal.

        A kill hits the runs of its worker begun before it; a server restart,
        the runs begun before the server was back.  Either only when the run
        was still going, or had ended less than a start-to-close timeout
        before (its completion not yet recorded): an earlier run that Temporal
        did not record would have been retried without any fault.
        """
        if self.kind == "kill" and run.worker != self.worker:
            return False
        if run.began >= self.ended:
            return False
        return run.ended is None or run.ended > self.began - START_TO_CLOSE


# -- the report --------------------------------------------------------------------------------------


@dataclass
class Report:
    sagas: int
    completed: int = 0
    steps_expected: int = 0
    steps_completed: int = 0
    runs: int = 0
    retried_after_kill: int = 0
    retried_after_server_restart: int = 0
    interrupted_runs: int = 0  # of the retried runs: killed or stopped mid-step (no end in the ledger)
    unrecorded_runs: int = 0  # of the retried runs: ended, but the fault came before Temporal recorded it
    longest_unrecorded: float = 0.0  # seconds between such a run's end and the fault, at most
    attempts_over_one: int = 0  # activities whose recorded attempt is > 1 in Temporal's history
    signals_sent: int = 0
    signals_sent_while_no_worker: int = 0
    sagas_with_signals_in_order: int = 0
    faults: list[dict[str, Any]] = field(default_factory=list)
    phases: dict[str, float] = field(default_factory=dict)
    duration: float = 0.0
    lost: list[str] = field(default_factory=list)
    unexplained: list[str] = field(default_factory=list)
    disorder: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return (
            self.completed == self.sagas
            and self.steps_completed == self.steps_expected
            and self.sagas_with_signals_in_order == self.sagas
            and not (self.lost or self.unexplained or self.disorder)
        )

    def table(self) -> str:
        unrecorded = f"{self.interrupted_runs} / {self.unrecorded_runs}"
        if self.unrecorded_runs:
            unrecorded += f" (ended at most {self.longest_unrecorded:.2f} s before the fault)"
        rows = [
            ("sagas completed", f"{self.completed} / {self.sagas}"),
            ("steps completed", f"{self.steps_completed} / {self.steps_expected}"),
            ("step runs in the ledger", str(self.runs)),
            ("steps run twice: retried after a kill", str(self.retried_after_kill)),
            ("steps run twice: retried after the server restart", str(self.retried_after_server_restart)),
            ("  of which interrupted mid-step / ended but unrecorded", unrecorded),
            ("activities with attempt > 1 in Temporal", str(self.attempts_over_one)),
            (
                "signals sent (while no worker ran)",
                f"{self.signals_sent} ({self.signals_sent_while_no_worker})",
            ),
            ("sagas that got their signals in order", f"{self.sagas_with_signals_in_order} / {self.sagas}"),
            ("steps lost", str(len(self.lost))),
            ("steps run twice with no fault to explain it", str(len(self.unexplained))),
            ("signals out of order", str(len(self.disorder))),
        ]
        for fault in self.faults:
            if fault["kind"] == "kill":
                what, effect = f"kill worker {fault['worker']}", f"{fault['interrupted']} interrupted"
            else:
                what, effect = "server restart", f"{fault['ended_across']} ended while it was down"
            when = f"at {fault['at']:.1f} s, {fault['in_flight']} runs in flight"
            rows.append((f"{what} during {fault['step']}", f"{when}, {effect}, took {fault['took']:.1f} s"))
        for phase, seconds in self.phases.items():
            rows.append((f"phase: {phase}", f"{seconds:.1f} s"))
        rows.append(("total", f"{self.duration:.1f} s"))
        width = max(len(name) for name, _ in rows)
        lines = [f"{name.ljust(width)}  {value}" for name, value in rows]
        for title, problems in (
            ("lost", self.lost),
            ("unexplained", self.unexplained),
            ("disorder", self.disorder),
        ):
            lines += [f"{title}: {problem}" for problem in problems[:20]]
        return "\n".join(lines)


# -- processes ---------------------------------------------------------------------------------------


class WorkerProcess:
    """``tests/durability_worker.py`` in its own OS process."""

    def __init__(self, address: str, ledger: Path, state_dir: Path, log: Path, hold: float) -> None:
        self.log = log
        self._log = open(log, "ab")  # noqa: SIM115 - closed in wait()
        self.process = subprocess.Popen(
            [sys.executable, str(WORKER_SCRIPT), address, str(ledger), str(state_dir), str(hold)],
            stdout=subprocess.PIPE,
            stderr=self._log,
            stdin=subprocess.DEVNULL,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        self.pid = self.process.pid
        self._ready = threading.Event()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            if line.strip() == b"ready":
                self._ready.set()

    def wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not self._ready.wait(0.05):
            if self.process.poll() is not None:
                raise ScenarioError(
                    f"worker {self.pid} exited with {self.process.returncode}: see {self.log}"
                )
            if time.monotonic() > deadline:
                raise ScenarioError(f"worker {self.pid} not ready after {timeout} s: see {self.log}")

    def alive(self) -> bool:
        return self.process.poll() is None

    def kill(self) -> None:
        if self.alive():
            self.process.send_signal(signal.SIGKILL)
        self.wait(30)

    def stop(self) -> None:
        if self.alive():
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self.wait(30)

    def wait(self, timeout: float) -> None:
        self.process.wait(timeout)
        if not self._log.closed:
            self._log.close()


# -- the scenario --------------------------------------------------------------------------------------


class Scenario:
    """One run: ``await Scenario(...).run()`` gives the verified :class:`Report`."""

    def __init__(
        self,
        workdir: Path,
        sagas: int,
        *,
        hold: float = 0.2,
        fraction: float = 0.25,
        timeout: float = 900.0,
        progress: Any = None,
    ) -> None:
        self.workdir = workdir
        self.sagas = sagas
        self.hold = hold
        self.fraction = fraction
        self.deadline = time.monotonic() + timeout
        self.ledger = workdir / "ledger.sqlite"
        self.server = DevServer(workdir / "server")
        self.workers: list[WorkerProcess] = []
        self.faults: list[Fault] = []
        self.report = Report(sagas=sagas)
        self.progress = progress or (lambda message: None)
        self.ids = [f"order-saga-{index:04d}" for index in range(1, sagas + 1)]
        self.handles: list[WorkflowHandle[Any, Any]] = []
        self.client: Client | None = None
        self.results: dict[str, Any] = {}
        self._started = time.time()
        self._t0 = self._phase_started = time.monotonic()

    # -- helpers --------------------------------------------------------------------------------

    def _remaining(self, cap: float) -> float:
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise ScenarioError("the scenario ran out of time")
        return min(cap, remaining)

    def _phase(self, name: str) -> None:
        now = time.monotonic()
        self.report.phases[name] = round(now - self._phase_started, 2)
        self._phase_started = now
        self.progress(f"{now - self._t0:6.1f} s  {name}")

    async def _connect(self) -> Client:
        """A client of the server, once its frontend is healthy (its port opens before)."""
        deadline = time.monotonic() + self._remaining(60)
        while True:
            try:
                return await Client.connect(
                    self.server.address, data_converter=data_converter, interceptors=[ActorflowInterceptor()]
                )
            except RuntimeError as exc:
                if "not healthy yet" not in str(exc) or time.monotonic() > deadline:
                    raise
            await asyncio.sleep(0.1)

    def _start_worker(self) -> WorkerProcess:
        number = len(self.workers) + 1
        worker = WorkerProcess(
            self.server.address,
            self.ledger,
            self.workdir / "worker-state",
            self.workdir / f"worker-{number}.log",
            self.hold,
        )
        self.workers.append(worker)
        worker.wait_ready(self._remaining(120))
        return worker

    def _no_worker_runs(self) -> bool:
        return not any(worker.alive() for worker in self.workers)

    async def _wave_under_way(self, step: str, worker: WorkerProcess) -> int:
        """Wait until ``worker`` is in the middle of ``step``'s wave; the runs in flight then."""
        needed = max(1, math.ceil(self.fraction * self.sagas))
        deadline = time.monotonic() + self._remaining(180)
        while True:
            if not worker.alive():
                raise ScenarioError(
                    f"worker {worker.pid} died by itself during the {step} wave: see {worker.log}"
                )
            runs = read_ledger(self.ledger)
            now = time.time()
            begun = {run.workflow_id for run in runs if run.step == step}
            in_flight = [run for run in runs if run.worker == worker.pid and run.ended is None]
            fresh = [run for run in in_flight if run.step == step and now - run.began < self.hold / 2]
            if len(begun) >= needed and fresh:
                return len(in_flight)
            if time.monotonic() > deadline:
                raise ScenarioError(
                    f"the {step} wave never got under way on worker {worker.pid} "
                    f"({len(begun)} of {self.sagas} sagas began it)"
                )
            await asyncio.sleep(0.01)

    async def _kill_during(self, step: str, worker: WorkerProcess) -> None:
        in_flight = await self._wave_under_way(step, worker)
        began = time.time()
        worker.kill()
        self.faults.append(Fault("kill", step, began, time.time(), worker.pid, in_flight))
        self._phase(f"worker {len(self.workers)} until killed during {step}")

    async def _restart_server_during(self, step: str, worker: WorkerProcess) -> None:
        in_flight = await self._wave_under_way(step, worker)
        began = time.time()
        self.server.stop()
        self.server.start(timeout=self._remaining(120))
        ended = time.time()
        self.faults.append(Fault("server restart", step, began, ended, None, in_flight))
        self._phase(f"worker {len(self.workers)} until the server restart during {step}")
        # The worker reconnects by itself: it begins new runs once the server is back.
        deadline = time.monotonic() + self._remaining(120)
        while not any(run.worker == worker.pid and run.began > ended for run in read_ledger(self.ledger)):
            if not worker.alive():
                raise ScenarioError(f"worker {worker.pid} died when the server restarted: see {worker.log}")
            if time.monotonic() > deadline:
                raise ScenarioError(f"worker {worker.pid} began no step after the server restart")
            await asyncio.sleep(0.05)
        self._phase("server restart until the worker ran a step again")

    async def _send_round(self, number: int, *, while_down: bool) -> None:
        """Signals ``2n-1`` and ``2n`` to every saga, one after the other per saga."""
        if while_down and not self._no_worker_runs():
            raise ScenarioError(f"round {number} must be sent while no worker runs")
        gate = asyncio.Semaphore(32)

        async def send(handle: WorkflowHandle[Any, Any]) -> None:
            async with gate:
                for n in (SIGNALS_PER_STEP * (number - 1) + k for k in range(1, SIGNALS_PER_STEP + 1)):
                    await handle.signal("update", {"n": n})

        await asyncio.wait_for(asyncio.gather(*(send(h) for h in self.handles)), self._remaining(300))
        sent = SIGNALS_PER_STEP * len(self.handles)
        self.report.signals_sent += sent
        if while_down:
            if not self._no_worker_runs():
                raise ScenarioError(f"a worker ran while round {number} was sent")
            self.report.signals_sent_while_no_worker += sent
        self._phase(
            f"signals {2 * number - 1}-{2 * number} sent" + (" while no worker ran" if while_down else "")
        )

    # -- the run ----------------------------------------------------------------------------------

    async def run(self) -> Report:
        started = time.monotonic()
        try:
            await self._run()
            self.report = await verify(self)
        finally:
            for worker in self.workers:
                if worker.alive():
                    worker.kill()
            self.server.stop()
        self.report.faults = [
            {
                "kind": fault.kind,
                "step": fault.step,
                "worker": fault.worker,
                "at": round(fault.began - self._started, 2),
                "took": round(fault.ended - fault.began, 2),
                "in_flight": fault.in_flight,
                "interrupted": fault.interrupted,
                "ended_across": fault.ended_across,
            }
            for fault in self.faults
        ]
        self.report.duration = round(time.monotonic() - started, 2)
        return self.report

    async def _run(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.server.start(timeout=self._remaining(120))
        self.client = await self._connect()
        first = self._start_worker()
        self._phase("server and worker 1 started")
        gate = asyncio.Semaphore(32)

        async def start(workflow_id: str) -> WorkflowHandle[Any, Any]:
            assert self.client is not None
            async with gate:
                return await self.client.start_workflow(
                    WORKFLOW,
                    {"id": workflow_id.removeprefix("order-saga-")},
                    id=workflow_id,
                    task_queue=TASK_QUEUE,
                    task_timeout=WORKFLOW_TASK_TIMEOUT,
                )

        self.handles = await asyncio.wait_for(
            asyncio.gather(*(start(workflow_id) for workflow_id in self.ids)), self._remaining(300)
        )
        self._phase(f"{self.sagas} sagas started")

        await self._kill_during("reserve", first)
        await self._send_round(1, while_down=True)
        second = self._start_worker()
        await self._kill_during("charge", second)
        await self._send_round(2, while_down=True)
        third = self._start_worker()
        await self._restart_server_during("pack", third)
        await self._send_round(3, while_down=False)
        await self._kill_during("ship", third)
        await self._send_round(4, while_down=True)
        last = self._start_worker()
        results = await asyncio.wait_for(
            asyncio.gather(*(handle.result() for handle in self.handles)), self._remaining(600)
        )
        self._phase(f"worker {len(self.workers)} until every saga completed")
        last.stop()
        self.results = dict(zip(self.ids, results, strict=True))


# -- verification --------------------------------------------------------------------------------------


@dataclass
class History:
    """What a saga's history recorded: its steps (by activity) and its signals, in order."""

    scheduled: Counter[str] = field(default_factory=Counter)
    completed: dict[str, tuple[int, int]] = field(default_factory=dict)  # step → (attempt, worker PID)
    signals: list[Any] = field(default_factory=list)


async def read_history(client: Client, workflow_id: str) -> History:
    history = History()
    step_of: dict[int, str] = {}
    started: dict[int, tuple[int, int]] = {}
    converter = data_converter.payload_converter
    async for event in client.get_workflow_handle(workflow_id).fetch_history_events():
        kind = event.event_type
        if kind == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            step = event.activity_task_scheduled_event_attributes.activity_type.name.removeprefix("app:")
            step_of[event.event_id] = step
            history.scheduled[step] += 1
        elif kind == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED:
            attributes = event.activity_task_started_event_attributes
            pid = attributes.identity.split("@")[0]
            started[attributes.scheduled_event_id] = (attributes.attempt, int(pid) if pid.isdigit() else -1)
        elif kind == EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
            scheduled = event.activity_task_completed_event_attributes.scheduled_event_id
            history.completed[step_of[scheduled]] = started[scheduled]
        elif kind == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED:
            attributes = event.workflow_execution_signaled_event_attributes
            payloads = converter.from_payloads(attributes.input.payloads)
            history.signals.append((attributes.signal_name, payloads[0].get("n") if payloads else None))
    return history


def classify(
    runs: list[Run], faults: list[Fault]
) -> tuple[dict[tuple[str, str], list[Run]], list[tuple[Run, Fault | None]]]:
    """The runs of each (saga, step), and each earlier run with the fault that explains it (or None)."""
    by_step: dict[tuple[str, str], list[Run]] = defaultdict(list)
    for run in runs:
        by_step[(run.workflow_id, run.step)].append(run)
    earlier = []
    for key in by_step:
        by_step[key].sort(key=lambda run: run.run)
        for run in by_step[key][:-1]:
            explained = next((fault for fault in faults if fault.hit(run)), None)
            earlier.append((run, explained))
    return by_step, earlier


async def verify(scenario: Scenario) -> Report:
    """Check the ledger against the results and Temporal's histories; the report says what held."""
    report = scenario.report
    report.steps_expected = scenario.sagas * len(STEPS)
    runs = read_ledger(scenario.ledger)
    report.runs = len(runs)
    by_step, earlier = classify(runs, scenario.faults)
    for run, fault in earlier:
        label = f"{run.workflow_id} {run.step} run {run.run} (worker {run.worker})"
        if fault is None:
            report.unexplained.append(f"{label} ran again, but no fault hit it")
            continue
        if fault.kind == "kill":
            report.retried_after_kill += 1
        else:
            report.retried_after_server_restart += 1
        if run.ended is None:
            report.interrupted_runs += 1
        else:
            report.unrecorded_runs += 1
            report.longest_unrecorded = max(report.longest_unrecorded, round(fault.began - run.ended, 3))
    for fault in scenario.faults:
        if fault.kind == "kill":
            fault.interrupted = sum(1 for run in runs if run.worker == fault.worker and run.ended is None)
        else:
            fault.ended_across = sum(
                1 for run in runs if run.ended is not None and fault.began <= run.ended <= fault.ended
            )

    assert scenario.client is not None
    gate = asyncio.Semaphore(16)

    async def history(workflow_id: str) -> History:
        async with gate:
            return await read_history(scenario.client, workflow_id)  # type: ignore[arg-type]

    histories = await asyncio.gather(*(history(workflow_id) for workflow_id in scenario.ids))
    expected_signals = [{"topic": "update", "n": n} for n in range(1, SIGNALS + 1)]
    for workflow_id, recorded in zip(scenario.ids, histories, strict=True):
        result = scenario.results.get(workflow_id) or {}
        if result.get("status") == "completed":
            report.completed += 1
        if result.get("signals") == expected_signals:
            report.sagas_with_signals_in_order += 1
        else:
            report.disorder.append(f"{workflow_id} received {result.get('signals')}")
        if [n for _, n in recorded.signals] != list(range(1, SIGNALS + 1)):
            report.disorder.append(f"{workflow_id}'s history holds the signals {recorded.signals}")
        receipts = {receipt.get("step"): receipt for receipt in result.get("receipts") or []}
        for step in STEPS:
            label = f"{workflow_id} {step}"
            step_runs = by_step.get((workflow_id, step), [])
            if not step_runs:
                report.lost.append(f"{label}: no run in the ledger")
                continue
            last = step_runs[-1]
            receipt = receipts.get(step)
            if last.ended is None:
                report.lost.append(f"{label}: its last run (worker {last.worker}) never ended")
                continue
            if receipt is None or (receipt.get("run"), receipt.get("worker")) != (last.run, last.worker):
                report.lost.append(f"{label}: the saga's receipt {receipt} is not the last run {last}")
                continue
            if recorded.scheduled[step] != 1:
                report.unexplained.append(f"{label}: scheduled {recorded.scheduled[step]} times")
                continue
            if step not in recorded.completed:
                report.lost.append(f"{label}: no completion in Temporal's history")
                continue
            attempt, worker = recorded.completed[step]
            if attempt > 1:
                report.attempts_over_one += 1
            if worker != last.worker:
                report.unexplained.append(
                    f"{label}: Temporal recorded the attempt of worker {worker}, the ledger's last run is {last}"
                )
                continue
            if attempt < len(step_runs):
                report.unexplained.append(
                    f"{label}: {len(step_runs)} runs in the ledger, but Temporal recorded attempt {attempt}"
                )
                continue
            report.steps_completed += 1
    return report


def run_scenario(workdir: Path, sagas: int, **options: Any) -> Report:
    """Run the scenario to its end (from a thread with no running event loop)."""
    scenario = Scenario(workdir, sagas, **options)
    return asyncio.run(scenario.run())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sagas", type=int, default=200, help="sagas in flight (default 200)")
    parser.add_argument("--hold", type=float, default=0.2, help="seconds each step works (default 0.2)")
    parser.add_argument("--timeout", type=float, default=1800, help="bound on the whole run (default 1800 s)")
    parser.add_argument("--workdir", type=Path, help="keep the server state, ledger and logs here")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress lines on stderr")
    args = parser.parse_args()
    if args.sagas < 1:
        parser.error("--sagas must be at least 1")
    progress = None if args.quiet else (lambda message: print(message, file=sys.stderr, flush=True))
    with tempfile.TemporaryDirectory(prefix="durability-") as scratch:
        workdir = args.workdir or Path(scratch)
        report = run_scenario(workdir, args.sagas, hold=args.hold, timeout=args.timeout, progress=progress)
    if args.json:
        print(json.dumps({**asdict(report), "ok": report.ok}, indent=2))
    else:
        print(report.table())
    sys.stdout.flush()
    os._exit(0 if report.ok else 1)  # temporalio can crash at interpreter exit (sdk-python issue 300)


if __name__ == "__main__":
    main()
