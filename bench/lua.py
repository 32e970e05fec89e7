"""Lua process benchmark: Lua processes against Python processes and pykka, same run.

* spawn: a process spawns ``--spawns`` processes, each of which sends "up"
  to it once running; processes spawned *and started* per second, Lua
  entries against ``async def`` Python processes and pykka
  ``ThreadingActor.start``;
* messages: one process sends ``--messages`` numbers to another, which sums
  them (send plus receive), Lua pair against Python pair and pykka ``tell``;
* memory: ``--idle`` idle Lua processes alive at once (RSS delta / count),
  beside the same number of idle Python processes.

Targets: Lua spawn ≥ 10,000/s, Lua send+receive ≥ 50,000 msgs/s, 100,000 idle
Lua processes alive.  ``--write`` records the figures in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import time
from pathlib import Path
from typing import Any

import pykka

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from _report import run_line, table, write_section  # noqa: E402

from actorflow.app import App  # noqa: E402
from actors import Node, Probe  # noqa: E402

APP_DIR = ROOT / "bench" / "apps" / "lua"


async def py_quick(proc: Any, observer: Any) -> None:
    proc.send(observer, "up")


async def py_spawner(proc: Any, count: int) -> int:
    ups = proc.listen("up")
    for _ in range(count):
        proc.spawn(py_quick, proc.pid)
    for _ in range(count):
        await ups.receive()
    return count


async def py_idle(proc: Any) -> None:
    await proc.inbox().receive()


async def py_sender(proc: Any, target: Any, count: int) -> None:
    for index in range(1, count + 1):
        proc.send(target, "n", index)


async def py_receiver(proc: Any, count: int, observer: Any) -> None:
    numbers = proc.listen("n")
    total = 0
    for _ in range(count):
        value, _ok = await numbers.receive()
        total += value
    proc.send(observer, "done", total)


class PykkaQuick(pykka.ThreadingActor):
    def on_start(self) -> None:
        self.stop()


class PykkaSum(pykka.ThreadingActor):
    def __init__(self) -> None:
        super().__init__()
        self.total = 0

    def on_receive(self, message: Any) -> Any:
        if message == "total":
            return self.total
        self.total += message
        return None


def wait_count(node: Node, target: int, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while node.process_count() != target:
        if time.monotonic() > deadline:
            raise RuntimeError(f"process count {node.process_count()}, wanted {target}")
        time.sleep(0.002)


def spawn_rate(node: Node, probe: Probe, spawner: Any, count: int) -> float:
    """A process spawns ``count`` processes that each report "up": spawned and started per second."""
    started = time.perf_counter()
    pid = probe.spawn(spawner, count, monitor=True)
    assert probe.expect_exit(pid, timeout=120).value == count
    elapsed = time.perf_counter() - started
    wait_count(node, 1)
    return count / elapsed


def pykka_spawn_rate(count: int) -> float:
    started = time.perf_counter()
    refs = [PykkaQuick.start() for _ in range(count)]
    for ref in refs:
        ref.actor_stopped.wait()
    return count / (time.perf_counter() - started)


def message_rate(node: Node, probe: Probe, sender: Any, receiver: Any, count: int) -> float:
    started = time.perf_counter()
    target = node.spawn(receiver, count, probe.pid)
    node.spawn(sender, target, count)
    total = probe.expect_message("done", timeout=120).payload
    elapsed = time.perf_counter() - started
    assert total == count * (count + 1) // 2, total
    wait_count(node, 1)
    return count / elapsed


def pykka_tell_rate(count: int) -> float:
    ref = PykkaSum.start()
    started = time.perf_counter()
    for index in range(1, count + 1):
        ref.tell(index)
    total = ref.ask("total")
    elapsed = time.perf_counter() - started
    ref.stop()
    assert total == count * (count + 1) // 2
    return count / elapsed


def rss() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def idle_memory(node: Node, target: Any, count: int) -> float:
    wait_count(node, 1)
    gc.collect()
    before = rss()
    pids = [node.spawn(target) for _ in range(count)]
    wait_count(node, count + 1)
    time.sleep(0.5)  # every process has run its first step and waits
    gc.collect()
    per_process = (rss() - before) / count
    for pid in pids:
        node.terminate(pid)
    wait_count(node, 1)
    return per_process


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--spawns", type=int, default=20_000)
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--idle", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    with App(APP_DIR, extensions=[], progress=lambda message: None) as app:
        node = app.node
        assert node is not None
        with Probe(node, default_timeout=60) as probe:
            best = lambda measure: max(measure() for _ in range(args.repeat))  # noqa: E731
            lua_spawn = best(lambda: spawn_rate(node, probe, "bench:spawner", args.spawns))
            py_spawn = best(lambda: spawn_rate(node, probe, py_spawner, args.spawns))
            pk_spawn = best(lambda: pykka_spawn_rate(2_000))
            lua_msgs = best(
                lambda: message_rate(node, probe, "bench:sender", "bench:receiver", args.messages)
            )
            py_msgs = best(lambda: message_rate(node, probe, py_sender, py_receiver, args.messages))
            pk_msgs = best(lambda: pykka_tell_rate(args.messages))
            lua_memory = idle_memory(node, "bench:idle", args.idle)
            py_memory = idle_memory(node, py_idle, args.idle)
    rows = [
        (
            "spawn and start",
            f"{lua_spawn:,.0f}/s",
            f"{py_spawn:,.0f}/s",
            f"{pk_spawn:,.0f}/s",
            f"{lua_spawn / py_spawn:.2f}× / {lua_spawn / pk_spawn:.1f}×",
            "≥ 10,000/s",
        ),
        (
            "send + receive between two processes",
            f"{lua_msgs:,.0f} msgs/s",
            f"{py_msgs:,.0f} msgs/s",
            f"{pk_msgs:,.0f} msgs/s (tell)",
            f"{lua_msgs / py_msgs:.2f}× / {lua_msgs / pk_msgs:.1f}×",
            "≥ 50,000/s",
        ),
        (
            f"{args.idle:,} idle processes alive at once",
            f"{lua_memory:,.0f} bytes each",
            f"{py_memory:,.0f} bytes each",
            "—",
            f"{lua_memory / py_memory:.1f}×" if py_memory > 0 else "—",  # a small --idle may not move RSS
            "reported",
        ),
    ]
    print(f"Lua process benchmark, best of {args.repeat}")
    for name, lua, python, pk, ratio, target in rows:
        print(
            f"  {name:<40} Lua {lua:>18}  Python {python:>18}  pykka {pk:>22}  ratios {ratio:>14}  target {target}"
        )
    if args.write:
        how = f"`python bench/lua.py` (best of {args.repeat}; ratios are Lua ÷ Python process / Lua ÷ pykka)"
        header = ["measurement", "Lua process", "Python process", "pykka", "ratios", "target"]
        write_section("lua", "Lua processes", [run_line(how), "", *table(header, rows)], before="Supervision")


if __name__ == "__main__":
    main()
