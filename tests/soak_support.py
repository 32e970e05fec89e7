"""The soak under chaos (issue 12, "Then prove it" 1): Lua and Python processes under
supervisors exchange messages while a chaos process kills random workers.

Run it alone for the full figures (the bounded mode runs in ``make test``,
``tests/test_soak_chaos.py``)::

    python tests/soak_support.py --workers 10000 --messages 1000000 [--json]

The scenario:

* an app with one ``process.host`` (``workers: 2``, one Lua thread) and a Lua
  entry ``soak:worker``; ``supervisors`` one_for_one supervisors share the
  workers, half Lua processes and half Python ``async def`` processes, each
  registered under its name ``w<i>`` (a restarted worker registers again);
* every worker incarnation sends ``messages / workers`` messages to peers
  picked at random, each addressed to the PID the name has when it is sent,
  carrying ``(sender PID, n)`` where ``n`` counts the messages that sender
  incarnation sent that receiver incarnation; a second coroutine of the worker
  receives them and records each one;
* a chaos process (a Python process) terminates a random live worker every
  ``kill_every`` seconds while messages flow.

The ledger records every send that went through (``sent``), every message a
worker received (``got``), every incarnation (name → PIDs) and every PID the
chaos process killed.  :func:`verify` then checks, for every (sender, receiver)
pair of incarnations:

* the receiver got messages ``1, 2, …, k`` in that order: none lost before the
  last it got, none twice, none out of order;
* if the receiver was never killed (it was alive until it received them), it
  got every message the sender's ledger says went through (``k ≥ sent``; a
  sender killed between a send and its record is why it may be more);

and for the supervisors: every killed incarnation was replaced by exactly one
new incarnation of the same name (one_for_one: nobody else restarted), each
child's restart count is the number of its incarnations killed, every child
ends running and no supervisor gave up.  After the app stops, the process
count, the thread count and the memory are back to where they started.
"""

from __future__ import annotations

import argparse
import ctypes
import gc
import json
import logging
import os
import random
import sys
import tempfile
import textwrap
import threading
import time
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from actorflow.app import App  # noqa: E402
from actors import errors  # noqa: E402
from actors.lua import register_module  # noqa: E402
from actors.lua.modules import unregister_module  # noqa: E402
from supervision import Backoff, ChildSpec, SupervisorSpec, start_supervisor  # noqa: E402


class Ledger:
    """What happened, as the workers and the chaos process report it (any thread)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.sent: dict[tuple[str, str], int] = {}
        """(sender PID, receiver PID) → the highest n the sender saw go through."""
        self.got: dict[tuple[str, str], list[int]] = defaultdict(list)
        """(receiver PID, sender PID) → the n's received, in order."""
        self.incarnations: dict[str, list[str]] = defaultdict(list)
        """name → its PIDs, in start order."""
        self.killed: set[str] = set()
        self.finished: set[str] = set()
        """Incarnations that sent all their messages."""
        self.messages_sent = 0
        self.messages_got = 0

    def started(self, name: str, pid: str) -> None:
        with self._lock:
            self.incarnations[name].append(pid)

    def record_sent(self, sender: str, receiver: str, n: int) -> None:
        with self._lock:
            self.sent[sender, receiver] = n
            self.messages_sent += 1

    def record_got(self, receiver: str, sender: str, n: int) -> None:
        with self._lock:
            self.got[receiver, sender].append(n)
            self.messages_got += 1

    def record_finished(self, pid: str) -> None:
        with self._lock:
            self.finished.add(pid)

    def record_killed(self, pid: str) -> None:
        with self._lock:
            self.killed.add(pid)

    def live_incarnations(self) -> list[str]:
        with self._lock:
            return [pids[-1] for pids in self.incarnations.values()]

    def undelivered(self) -> int:
        """Messages that went through to a receiver never killed and have not arrived yet."""
        with self._lock:
            missing = 0
            for (sender, receiver), n in self.sent.items():
                if receiver in self.killed:
                    continue
                got = self.got.get((receiver, sender))
                missing += max(0, n - (len(got) if got else 0))
            return missing


LEDGER: Ledger | None = None
"""The running scenario's ledger (the ``soak`` Lua module reports to it)."""

SOAK_MODULE = """
local api = ...
return {
  started = function(name) return api.call("started", name) end,
  sent = function(receiver, n) return api.call("sent", receiver, n) end,
  got = function(sender, n) return api.call("got", sender, n) end,
  finished = function() return api.call("finished") end,
}
"""


def _ledger() -> Ledger:
    assert LEDGER is not None, "no soak running"
    return LEDGER


def register_soak_module() -> None:
    register_module(
        "soak",
        SOAK_MODULE,
        {
            "started": lambda caller, name: _ledger().started(name, caller.pid),
            "sent": lambda caller, receiver, n: _ledger().record_sent(caller.pid, receiver, n),
            "got": lambda caller, sender, n: _ledger().record_got(caller.pid, sender, n),
            "finished": lambda caller: _ledger().record_finished(caller.pid),
        },
        in_workflows=False,
        replace=True,
    )


LUA_WORKER = """
local soak = require("soak")
local time = require("time")

return {main = function(name, quota, population, pause_every)
  local me = process.pid()
  process.registry.register(name)
  soak.started(name)
  local inbox = process.inbox()
  coroutine.spawn(function()
    while true do
      local message = inbox:receive()
      local body = message:payload():data()
      soak.got(body.from, body.n)
    end
  end)
  local counts = {}
  for i = 1, quota do
    local peer = process.registry.lookup("w" .. math.random(population))
    if peer then
      local n = (counts[peer] or 0) + 1
      if process.send(peer, "m", {from = me, n = n}) then
        counts[peer] = n
        soak.sent(peer, n)
      end
    end
    if i % pause_every == 0 then time.sleep("1ms") end
  end
  soak.finished()
  process.listen("never"):receive()
end}
"""

INDEX = """\
version: "1.0"
namespace: soak
entries:
  - name: processes
    kind: process.host
    host:
      workers: 2
  - name: worker
    kind: process.lua
    source: file://worker.lua
    method: main
    modules: [soak, time]
"""


async def python_worker(proc: Any, name: str, quota: int, population: int, pause_every: int) -> None:
    ledger = _ledger()
    me = str(proc.pid)
    proc.register(name)
    ledger.started(name, me)
    inbox = proc.inbox()

    async def receive() -> None:
        while True:
            message, _ok = await inbox.receive()
            body = message.payload
            ledger.record_got(me, body["from"], body["n"])

    await proc.go(receive())
    node = proc.node
    counts: dict[str, int] = {}
    for index in range(1, quota + 1):
        peer = node.whereis(f"w{random.randint(1, population)}")
        if peer is not None:
            target = str(peer)
            n = counts.get(target, 0) + 1
            try:
                proc.send(peer, "m", {"from": me, "n": n})
            except errors.Error:
                pass  # the peer ended meanwhile: nothing went through
            else:
                counts[target] = n
                ledger.record_sent(me, target, n)
        if index % pause_every == 0:
            await proc.sleep(0.001)
    ledger.record_finished(me)
    await proc.listen("never").receive()


async def chaos(proc: Any, population: int, kill_every: float, seed: int) -> None:
    """Terminates a random live worker every ``kill_every`` seconds until told to stop."""
    ledger = _ledger()
    rng = random.Random(seed)
    stop = proc.listen("stop")
    node = proc.node
    while True:
        timer = proc.after(kill_every)
        from actors import select

        index, _value, _ok = await select(stop.case_receive(), timer.case_receive())
        if index == 0:
            return
        victim = node.whereis(f"w{rng.randint(1, population)}")
        if victim is None:
            continue  # between a death and its restart
        try:
            node.terminate(victim)
        except errors.Error:
            continue
        ledger.record_killed(str(victim))


@dataclass
class Outcome:
    """The figures of one run and what :func:`verify` found wrong (nothing, if it passed)."""

    workers: int = 0
    supervisors: int = 0
    messages_target: int = 0
    quota: int = 0
    messages_sent: int = 0
    messages_got: int = 0
    lost_to_killed_receivers: int = 0
    killed: int = 0
    restarts: int = 0
    seconds_starting: float = 0.0
    seconds_exchanging: float = 0.0
    seconds_draining: float = 0.0
    seconds_stopping: float = 0.0
    processes_before: int = 0
    processes_after: int = 0
    threads_before: int = 0
    threads_after: int = 0
    threads_peak: int = 0
    rss_before_mb: float = 0.0
    rss_peak_mb: float = 0.0
    rss_after_mb: float = 0.0
    gc_objects_before: int = 0
    gc_objects_after: int = 0
    python_heap_before_mb: float = 0.0
    python_heap_after_mb: float = 0.0
    runtime_objects_after: dict[str, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


def python_heap_mb() -> float:
    """MB in the blocks CPython's small-object allocator has handed out (live objects)."""
    with tempfile.TemporaryFile() as report:
        saved = os.dup(2)
        try:
            os.dup2(report.fileno(), 2)
            sys._debugmallocstats()  # writes its report to stderr (file descriptor 2)
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        report.seek(0)
        text = report.read().decode(errors="replace")
    for line in text.splitlines():
        if line.startswith("# bytes in allocated blocks"):
            return int(line.split("=")[1].replace(",", "")) / 2**20
    return 0.0


def rss_mb() -> float:
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except OSError:  # not Linux: the peak resident size instead
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run(
    *,
    workers: int = 2_000,
    messages: int = 100_000,
    supervisors: int = 20,
    kill_every: float = 0.005,
    pause_every: int = 10,
    seed: int = 12,
    deadline: float = 300.0,
    progress: Any = None,
) -> Outcome:
    """Run the scenario; the :class:`Outcome`, its ``problems`` empty when every check held."""
    global LEDGER
    say = progress or (lambda message: None)
    random.seed(seed)
    outcome = Outcome(
        workers=workers, supervisors=supervisors, messages_target=messages, quota=max(1, messages // workers)
    )
    LEDGER = ledger = Ledger()
    register_soak_module()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            app_dir = Path(tmp)
            (app_dir / "_index.yaml").write_text(INDEX)
            (app_dir / "worker.lua").write_text(textwrap.dedent(LUA_WORKER))
            app = App(app_dir, extensions=[], progress=lambda message: None)  # loaded, not started
            gc.collect()
            outcome.threads_before = threading.active_count()
            outcome.rss_before_mb = rss_mb()
            outcome.gc_objects_before = _objects()
            outcome.python_heap_before_mb = python_heap_mb()
            before = _runtime_objects()
            _run_app(app, outcome, ledger, kill_every, pause_every, seed, deadline, say)
            del app
    finally:
        LEDGER = None
        unregister_module("soak")
    verify(outcome, ledger)
    del ledger
    _clear_caches()
    gc.collect()
    _give_back_freed_memory()
    outcome.threads_after = threading.active_count()
    outcome.rss_after_mb = rss_mb()
    outcome.gc_objects_after = _objects()
    outcome.python_heap_after_mb = python_heap_mb()
    after = _runtime_objects()
    outcome.runtime_objects_after = {name: after[name] - before.get(name, 0) for name in after}
    outcome.runtime_objects_after = {name: n for name, n in outcome.runtime_objects_after.items() if n}
    check_baseline(outcome)
    return outcome


def _clear_caches() -> None:
    """Empty the bounded caches of parsed PIDs: what they keep (a few thousand PIDs made all
    through the run) pins Python's memory arenas, which would hide what is really left."""
    from actors import pid
    from actors.lua import process

    pid._parsed.clear()
    process._PID_TEXTS.clear()


def _give_back_freed_memory() -> None:
    """Ask glibc to return the heap it keeps after frees (else RSS says nothing about leaks)."""
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass  # not glibc: the figure is an upper bound


_RUNTIME_TYPES = {
    "Process",
    "Router",
    "Channel",
    "Scheduler",
    "Task",
    "LuaProcess",
    "LuaCore",
    "LuaTask",
    "CoroutineBehaviour",
    "Supervisor",
    "Timer",
    "Ticker",
    "LuaState",
}


def _objects() -> int:
    """Python objects the collector tracks, but PIDs (a bounded cache of parsed PIDs keeps some)."""
    return sum(1 for item in gc.get_objects() if type(item).__name__ != "PID")


def _runtime_objects() -> dict[str, int]:
    """Live objects of the runtime's own types (processes, channels, Lua states…): none once stopped."""
    counts: dict[str, int] = defaultdict(int)
    for item in gc.get_objects():
        name = type(item).__name__
        if name in _RUNTIME_TYPES and type(item).__module__.split(".")[0] in ("actors", "supervision"):
            counts[name] += 1
    return dict(counts)


def _run_app(
    app: App,
    outcome: Outcome,
    ledger: Ledger,
    kill_every: float,
    pause_every: int,
    seed: int,
    deadline: float,
    say: Any,
) -> None:
    workers, quota, target = outcome.workers, outcome.quota, outcome.messages_target
    per_supervisor = -(-workers // outcome.supervisors)
    backoff = Backoff(initial=0.001, factor=1.0, maximum=0.001, jitter=0.0, reset_after=1.0)
    with app:
        node = app.node
        assert node is not None
        outcome.processes_before = node.process_count()
        started = time.monotonic()
        refs = []
        for first in range(1, workers + 1, per_supervisor):
            children = []
            for index in range(first, min(first + per_supervisor, workers + 1)):
                name = f"w{index}"
                arguments = (name, quota, workers, pause_every)
                start: Any = "soak:worker" if index % 2 else python_worker
                children.append(
                    ChildSpec(
                        name,
                        start,
                        args=arguments,
                        restart="permanent",
                        shutdown="brutal_kill",
                        host="soak:processes",
                        await_start=False,
                    )
                )
            spec = SupervisorSpec(
                children, "one_for_one", max_restarts=None, backoff=backoff, order="declared"
            )
            refs.append(start_supervisor(node, spec, host="soak:processes", timeout=120))
        say(f"{workers:,} workers under {len(refs)} supervisors started")
        chaos_pid = node.spawn(chaos, workers, kill_every, seed, host="soak:processes")
        outcome.seconds_starting = time.monotonic() - started
        started = time.monotonic()
        give_up = started + deadline
        peak_threads = threading.active_count()
        peak_rss = rss_mb()
        last_report = time.monotonic()
        chaos_running = True
        while time.monotonic() < give_up:
            if chaos_running and ledger.messages_sent >= target:
                # Kills stop once the target went through; the incarnations then running
                # send their messages in peace (a restarted worker sends its quota again).
                node.send(chaos_pid, "stop")
                node.wait(chaos_pid, timeout=10)
                chaos_running = False
            live = ledger.live_incarnations()
            unfinished = [pid for pid in live if pid not in ledger.finished]
            if not chaos_running and len(live) == workers and not unfinished:
                break
            peak_threads = max(peak_threads, threading.active_count())
            peak_rss = max(peak_rss, rss_mb())
            if time.monotonic() - last_report > 5:
                last_report = time.monotonic()
                say(
                    f"{ledger.messages_sent:,} sent, {ledger.messages_got:,} received, "
                    f"{len(ledger.killed):,} killed, {len(live):,} started, {len(unfinished):,} still sending"
                )
            time.sleep(0.05)
        else:
            outcome.problems.append(f"the workers did not finish sending within {deadline} s")
        if chaos_running:
            node.send(chaos_pid, "stop")
            node.wait(chaos_pid, timeout=10)
        outcome.seconds_exchanging = time.monotonic() - started
        say(f"{ledger.messages_sent:,} messages sent, {len(ledger.killed):,} workers killed")
        started = time.monotonic()
        # Every message to a receiver never killed arrives (they are still running).
        drain_until = time.monotonic() + 60
        while ledger.undelivered() and time.monotonic() < drain_until:
            time.sleep(0.05)
        outcome.seconds_draining = time.monotonic() - started
        say(f"drained in {outcome.seconds_draining:.1f} s ({ledger.undelivered()} not delivered)")
        outcome.threads_peak = max(peak_threads, threading.active_count())
        outcome.rss_peak_mb = max(peak_rss, rss_mb())
        trees = [ref.tree() for ref in refs]
        started = time.monotonic()
        for ref in refs:
            ref.stop(timeout=60)
        outcome.seconds_stopping = time.monotonic() - started
        say(f"supervisors stopped in {outcome.seconds_stopping:.1f} s")
        outcome.processes_after = node.process_count()
        _check_supervisors(outcome, ledger, trees)


def _check_supervisors(outcome: Outcome, ledger: Ledger, trees: list[dict[str, Any]]) -> None:
    problems = outcome.problems
    restarts = 0
    for tree in trees:
        if tree["status"] != "running":
            problems.append(f"supervisor {tree['pid']} is {tree['status']}")
        for child in tree["children"]:
            name = child["id"]
            pids = ledger.incarnations.get(name, [])
            killed = sum(1 for pid in pids if pid in ledger.killed)
            restarts += child["restarts"]
            if child["status"] != "running":
                problems.append(f"{name} ended {child['status']} ({child['last_error']})")
            if child["restarts"] != killed:
                problems.append(f"{name}: {child['restarts']} restarts for {killed} incarnations killed")
            if len(pids) != killed + 1:
                problems.append(
                    f"{name}: {len(pids)} incarnations for {killed} killed (one_for_one: one each)"
                )
            if pids and str(child["pid"]) != pids[-1]:
                problems.append(
                    f"{name}: the supervisor runs {child['pid']}, the last incarnation is {pids[-1]}"
                )
            if len(set(pids)) != len(pids):
                problems.append(f"{name}: a PID was used twice")
    outcome.restarts = restarts
    if restarts != len(ledger.killed):
        problems.append(f"{restarts} restarts in all for {len(ledger.killed)} workers killed")


def verify(outcome: Outcome, ledger: Ledger) -> None:
    """Check every message and the counts (see the module docstring); problems go to ``outcome``."""
    problems = outcome.problems
    outcome.messages_sent = ledger.messages_sent
    outcome.messages_got = ledger.messages_got
    outcome.killed = len(ledger.killed)
    pairs = set(ledger.sent) | {(sender, receiver) for receiver, sender in ledger.got}
    lost = 0
    for sender, receiver in pairs:
        got = ledger.got.get((receiver, sender), [])
        sent = ledger.sent.get((sender, receiver), 0)
        if got != list(range(1, len(got) + 1)):
            problems.append(f"{sender} → {receiver}: received {got[:20]}… (lost, doubled or reordered)")
            continue
        if receiver in ledger.killed:
            lost += max(0, sent - len(got))
        elif len(got) < sent:
            problems.append(f"{sender} → {receiver}: {sent} went through, {len(got)} arrived")
    outcome.lost_to_killed_receivers = lost
    if outcome.processes_after != outcome.processes_before:
        problems.append(f"{outcome.processes_after} processes left (baseline {outcome.processes_before})")


def check_baseline(outcome: Outcome) -> None:
    """Threads, memory and objects back where they started once the app stopped."""
    problems = outcome.problems
    if outcome.threads_after > outcome.threads_before:
        problems.append(f"{outcome.threads_after} threads after (baseline {outcome.threads_before})")
    # The live Python heap, not the resident size: CPython keeps a 1 MB arena while any block
    # in it is used, so the resident size stays near its peak after a run that freed everything
    # (measured: the live heap back within 0.1 MB, 60 of 100 MB of arenas kept).
    grown = outcome.python_heap_after_mb - outcome.python_heap_before_mb
    if grown > 2.0:
        problems.append(f"the live Python heap is {grown:.1f} MB above its baseline after the app stopped")
    if outcome.gc_objects_after > outcome.gc_objects_before + 5_000:
        problems.append(
            f"{outcome.gc_objects_after - outcome.gc_objects_before:,} more Python objects than at the start"
        )
    if outcome.runtime_objects_after:
        problems.append(f"runtime objects still alive: {outcome.runtime_objects_after}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--workers", type=int, default=10_000)
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--supervisors", type=int, default=100)
    parser.add_argument("--kill-every", type=float, default=0.005, help="seconds between kills")
    parser.add_argument("--seed", type=int, default=12)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    logging.getLogger().setLevel(logging.ERROR)  # every kill is a supervisor's warning: thousands
    outcome = run(
        workers=args.workers,
        messages=args.messages,
        supervisors=args.supervisors,
        kill_every=args.kill_every,
        seed=args.seed,
        deadline=1800.0,
        progress=lambda message: print(message, file=sys.stderr),
    )
    if args.json:
        print(json.dumps(asdict(outcome), indent=2))
    else:
        for key, value in asdict(outcome).items():
            if isinstance(value, float):
                print(f"{key:<28} {value:,.2f}")
            elif isinstance(value, int):
                print(f"{key:<28} {value:,}")
            elif key != "problems":
                print(f"{key:<28} {value}")
        print("problems:", "none" if not outcome.problems else "")
        for problem in outcome.problems[:50]:
            print("  " + problem)
    sys.stdout.flush()
    os._exit(1 if outcome.problems else 0)


if __name__ == "__main__":
    main()
