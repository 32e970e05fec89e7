"""Lua processes inside an app, for each ``process.host`` ``workers`` value, same run.

A Wippy-style app (entries with ``method: main`` and ``modules``, spawning on
``app:processes``) is written to a temporary directory once per ``workers``
value and run through ``actorflow.app.App.exec``, as ``actorflow exec`` does:

* spawn: ``main`` spawns ``--spawns`` children that each report "up" and end;
* spawn, children stay: the same, but the children stay alive until ``main``
  has heard from all of them, then it stops them (what apps with worker
  processes do: the live processes weigh on Python's garbage collector);
* pairs: ``--pairs`` pinger/ponger pairs, ``--rounds`` round trips each.

Each figure is the median of ``--repeat`` rounds (the settings take turns,
so a busy moment of the machine hits all of them; threads fighting over the
GIL form a convoy in some runs and not in others, which a best-of would
hide): wall time, the process's CPU time, the voluntary thread switches (a
thread that blocks on the GIL or a lock: each one is a hand-off between
threads) and the CPU time spent in Python's cyclic garbage collector.
Ratios are against the best ``workers`` value of the same workload, and for
the spawn workloads against the peer too (``÷ peer``, wall time).  Every
result is checked: a run that returns a wrong value or times out (a crossed
or lost message) is counted as failed, not measured (with lupa 2.8's Lua
5.5, Lua can be handed another Python object than the one pushed, lupa issue
#294; channels reach Lua as integer handles since, so none can cross between
processes).  The peer is
``bench/lua.py``'s spawner (its own app, ``workers: 1``, children that end),
same run.

Wall times on a shared machine count other programs' work too: the CPU time
and the switches are the figures to compare there.
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from _report import run_line, table, write_section  # noqa: E402

from actorflow.app import App  # noqa: E402
from actors import errors  # noqa: E402

BENCH_APP = ROOT / "bench" / "apps" / "lua"

SOURCES = {
    "main.lua": """
        local logger = require("logger")
        -- Spawns `count` children; with `stay`, stops them once all are up.
        local function main(count, stay)
          local ups = process.listen("up")
          local byes = process.listen("bye")
          local me = process.pid()
          local children = {}
          for i = 1, count do
            children[i] = process.spawn("app:child", "app:processes", me, i, stay)
          end
          for _ = 1, count do ups:receive() end
          if stay then
            for i = 1, count do process.send(children[i], "stop") end
            for _ = 1, count do byes:receive() end
          end
          return count
        end
        return { main = main }
    """,
    "child.lua": """
        local json = require("json")
        local function main(parent, index, stay)
          process.send(parent, "up", index)
          if stay then
            process.listen("stop"):receive()
            process.send(parent, "bye", index)
          end
        end
        return { main = main }
    """,
    "pairs.lua": """
        local function main(count, rounds)
          local dones = process.listen("done")
          local me = process.pid()
          for _ = 1, count do process.spawn("app:pinger", "app:processes", rounds, me) end
          local total = 0
          for _ = 1, count do total = total + dones:receive() end
          return total
        end
        return { main = main }
    """,
    "pinger.lua": """
        local function main(rounds, observer)
          local ponger = process.spawn("app:ponger", "app:processes")
          local pongs = process.listen("pong")
          local me = process.pid()
          local sum = 0
          for n = 1, rounds do
            process.send(ponger, "ping", {from = me, n = n})
            sum = sum + pongs:receive()
          end
          process.terminate(ponger)
          process.send(observer, "done", sum)
        end
        return { main = main }
    """,
    "ponger.lua": """
        local function main()
          local pings = process.listen("ping")
          while true do
            local ping = pings:receive()
            process.send(ping.from, "pong", ping.n)
          end
        end
        return { main = main }
    """,
}

INDEX = """\
version: "1.0"
namespace: app
entries:
  - name: processes
    kind: process.host
    host:
      workers: {workers}
  - name: main
    kind: process.lua
    source: file://main.lua
    method: main
    modules: [logger]
  - name: child
    kind: process.lua
    source: file://child.lua
    method: main
    modules: [json]
  - name: pairs
    kind: process.lua
    source: file://pairs.lua
    method: main
  - name: pinger
    kind: process.lua
    source: file://pinger.lua
    method: main
  - name: ponger
    kind: process.lua
    source: file://ponger.lua
    method: main
"""


def write_app(root: Path, workers: int) -> Path:
    app = root / f"workers-{workers}"
    app.mkdir()
    (app / "_index.yaml").write_text(INDEX.format(workers=workers))
    for name, source in SOURCES.items():
        (app / name).write_text(textwrap.dedent(source).lstrip())
    return app


class Meter:
    """Wall time, CPU time, voluntary thread switches and GC time of one call."""

    def __init__(self) -> None:
        self._gc = 0.0
        self._gc_started = 0.0
        gc.callbacks.append(self._on_gc)

    def _on_gc(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._gc_started = time.thread_time()
        else:
            self._gc += time.thread_time() - self._gc_started

    def measure(self, work: Callable[[], Any]) -> dict[str, float]:
        gc.collect()  # start every run from the same heap: earlier runs' garbage is not its cost
        switches, gc_before = voluntary_switches(), self._gc
        cpu, wall = time.process_time(), time.perf_counter()
        work()
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        return {
            "wall": wall,
            "cpu": cpu,
            "switches": max(0, voluntary_switches() - switches),  # a thread that ended takes its count
            "gc": self._gc - gc_before,
        }


def voluntary_switches() -> int:
    """Voluntary context switches of every thread of this process so far (Linux; else 0)."""
    total = 0
    try:
        tasks = os.listdir("/proc/self/task")
    except OSError:
        return 0
    for task in tasks:
        try:
            with open(f"/proc/self/task/{task}/status") as status:
                for line in status:
                    if line.startswith("voluntary_ctxt_switches"):
                        total += int(line.split()[1])
        except OSError:
            pass  # the thread ended meanwhile
    return total


def run(app: App, entry: str, args: tuple[Any, ...], expected: Any) -> None:
    """Run ``entry`` to its end; its result must be ``expected`` (a crossed or lost message shows here)."""
    value = app.exec(entry, *args, timeout=60)
    if value != expected:
        raise errors.Error(errors.INTERNAL, f"{entry} returned {value!r}, expected {expected!r}")


def median(runs: list[dict[str, float]]) -> dict[str, float]:
    """The median of each figure over the runs."""
    return {key: statistics.median(run[key] for run in runs) for key in runs[0]}


def wait_idle(app: App) -> None:
    """Wait until every process of the app has ended (a failed run may leave some)."""
    node = app.node
    assert node is not None
    deadline = time.monotonic() + 60
    while node.process_count() and time.monotonic() < deadline:
        time.sleep(0.002)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--workers", default="1,2,4,8,32", help="comma-separated workers values")
    parser.add_argument("--spawns", type=int, default=10_000)
    parser.add_argument("--pairs", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=2_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    settings = [int(value) for value in args.workers.split(",")]
    # Each workload: (entry, arguments, the value it must return).
    workloads: dict[str, tuple[str, tuple[Any, ...], Any]] = {
        "spawn": ("app:main", (args.spawns, False), args.spawns),
        "spawn, children stay": ("app:main", (args.spawns, True), args.spawns),
        "pairs": ("app:pairs", (args.pairs, args.rounds), args.pairs * args.rounds * (args.rounds + 1) // 2),
    }
    meter = Meter()
    runs: dict[tuple[str, int], list[dict[str, float]]] = {}
    failures: dict[tuple[str, int], list[str]] = {}
    peer_runs: list[dict[str, float]] = []

    with tempfile.TemporaryDirectory() as tmp:
        apps = {workers: write_app(Path(tmp), workers) for workers in settings}
        for _ in range(args.repeat):
            for workers in settings:
                with App(apps[workers], extensions=[], progress=lambda message: None) as app:
                    for name, (entry, call_args, expected) in workloads.items():
                        try:
                            figures = meter.measure(partial(run, app, entry, call_args, expected))
                        except errors.Error as failure:  # a wrong value, a lost message (timeout), …
                            failures.setdefault((name, workers), []).append(str(failure))
                            print(f"workers {workers}, {name}: {failure}", file=sys.stderr)
                            continue
                        finally:
                            wait_idle(app)
                        runs.setdefault((name, workers), []).append(figures)
            with App(BENCH_APP, extensions=[], progress=lambda message: None) as app:
                figures = meter.measure(partial(run, app, "bench:spawner", (args.spawns,), args.spawns))
                wait_idle(app)
                peer_runs.append(figures)
    best = {key: median(values) for key, values in runs.items()}
    peer = median(peer_runs)
    rows = []
    for name in workloads:
        measured = [workers for workers in settings if (name, workers) in best]
        fastest = min(best[name, workers]["wall"] for workers in measured) if measured else 1.0
        least_cpu = min(best[name, workers]["cpu"] for workers in measured) if measured else 1.0
        for workers in settings:
            failed = len(failures.get((name, workers), []))
            if (name, workers) not in best:
                rows.append((name, str(workers), f"failed {failed} of {args.repeat}", "", "", "", "", "", ""))
                continue
            figures = best[name, workers]
            rows.append(
                (
                    name,
                    str(workers),
                    f"{figures['wall']:.2f} s" + (f" ({failed} failed)" if failed else ""),
                    f"{figures['wall'] / fastest:.2f}×",
                    f"{figures['cpu']:.2f} s",
                    f"{figures['cpu'] / least_cpu:.2f}×",
                    f"{figures['wall'] / peer['wall']:.2f}×" if name.startswith("spawn") else "—",
                    f"{figures['switches']:,.0f}",
                    f"{figures['gc']:.2f} s",
                )
            )
    rows.append(
        (
            "peer: bench/lua.py spawner",
            "1",
            f"{peer['wall']:.2f} s",
            "—",
            f"{peer['cpu']:.2f} s",
            "—",
            "1.00×",
            f"{peer['switches']:,.0f}",
            f"{peer['gc']:.2f} s",
        )
    )
    header = ["workload", "workers", "wall", "÷ best", "CPU", "÷ least", "÷ peer", "thread switches", "GC"]
    print(
        f"Lua processes in an app: {args.spawns:,} spawns, {args.pairs} pairs × {args.rounds:,} "
        f"round trips; median of {args.repeat}"
    )
    widths = [max(len(str(row[index])) for row in [header, *rows]) for index in range(len(header))]
    for row in [header, *rows]:
        print("  " + "  ".join(str(cell).rjust(width) for cell, width in zip(row, widths, strict=True)))
    if args.write:
        how = (
            f"`python bench/lua_app.py` (median of {args.repeat}; ratios against the best workers value "
            "and, for the spawns, the peer's wall time)"
        )
        write_section(
            "lua_app",
            "Lua processes in an app",
            [run_line(how), "", *table(header, rows)],
            before="Supervision",
        )


if __name__ == "__main__":
    main()
