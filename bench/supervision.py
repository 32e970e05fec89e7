"""Supervision benchmark.

* restarts per second of a ``one_for_one`` supervisor whose child crashes in
  ``on_start`` at every restart (its first start succeeds, or the supervisor
  would not start; the intensity is set to the number of restarts to
  measure: the supervisor exits when it is reached);
* the time to start and to stop a tree of 10,000 workers (100 supervisors of
  100 workers under one root).

``--write`` puts the figures in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from _report import run_line, table, write_section  # noqa: E402

from actors import Actor, Node, Probe, errors  # noqa: E402
from supervision import ChildSpec, SupervisorSpec, start_supervisor, supervisor_child  # noqa: E402


class CrashOnStart(Actor):
    """Starts once (a supervisor's first start must succeed); crashes in ``on_start`` after that."""

    def __init__(self, starts: list[int]) -> None:
        super().__init__()
        self.starts = starts

    def on_start(self) -> None:
        self.starts.append(1)
        if len(self.starts) > 1:
            raise RuntimeError("crash on start")

    def on_receive(self, message: object) -> None:
        raise RuntimeError("crash")


class Idle(Actor):
    pass


def restarts_per_second(node: Node, restarts: int) -> float:
    spec = SupervisorSpec(
        [ChildSpec("bad", CrashOnStart, args=([],))], max_restarts=restarts, max_seconds=3600
    )
    with Probe(node, default_timeout=120) as probe:
        with probe.acting():
            sup = start_supervisor(node, spec, monitor=True)
        started = time.perf_counter()
        node.send(sup.which_children()[0]["pid"], "crash")
        probe.expect_exit(sup.pid, error_kind=errors.LIMIT_EXCEEDED)
        elapsed = time.perf_counter() - started
    return restarts / elapsed


def tree_start_stop(node: Node, branches: int, leaves: int) -> tuple[float, float]:
    baseline = node.process_count()
    leaf = SupervisorSpec([ChildSpec(f"w{index}", Idle) for index in range(leaves)])
    root = SupervisorSpec([supervisor_child(f"s{index}", leaf) for index in range(branches)])
    expected = baseline + 1 + branches + branches * leaves
    started = time.perf_counter()
    sup = start_supervisor(node, root, timeout=120)
    while node.process_count() < expected:
        time.sleep(0.001)
    start_time = time.perf_counter() - started
    started = time.perf_counter()
    sup.stop(timeout=120)
    while node.process_count() > baseline:
        time.sleep(0.001)
    return start_time, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--restarts", type=int, default=5000)
    parser.add_argument("--branches", type=int, default=100)
    parser.add_argument("--leaves", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    import logging

    logging.getLogger("actors").setLevel(logging.CRITICAL)  # the crashing child logs every crash
    logging.getLogger("supervision").setLevel(logging.CRITICAL)
    with Node(workers=2) as node:
        rate = max(restarts_per_second(node, args.restarts) for _ in range(args.repeat))
        timings = [tree_start_stop(node, args.branches, args.leaves) for _ in range(args.repeat)]
    start = min(timing[0] for timing in timings)
    stop = min(timing[1] for timing in timings)
    workers = args.branches * args.leaves
    print(f"supervision benchmark, best of {args.repeat}")
    print(f"  one_for_one restarts (child crashes on start)  {rate:>10,.0f} restarts/s")
    print(f"  start a tree of {workers:,} workers             {start * 1000:>10,.0f} ms")
    print(f"  stop a tree of {workers:,} workers              {stop * 1000:>10,.0f} ms")
    if args.write:
        rows = [
            ["`one_for_one` restarts of a child that crashes in `on_start`", f"{rate:,.0f} restarts/s"],
            [
                f"start a tree of {workers:,} workers ({args.branches} supervisors × {args.leaves})",
                f"{start * 1000:,.0f} ms",
            ],
            ["stop that tree (reverse order, CANCEL then EXIT for each)", f"{stop * 1000:,.0f} ms"],
        ]
        how = f"`python bench/supervision.py` (best of {args.repeat})"
        write_section(
            "supervision", "Supervision", [run_line(how), "", *table(["measurement", "result"], rows)]
        )


if __name__ == "__main__":
    main()
