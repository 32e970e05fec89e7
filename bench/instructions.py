"""Instructions per operation, counted by valgrind's callgrind: a figure the VM's noise does not move.

Wall-clock rates on a shared VM move by ±30 % from one minute to the next;
the number of instructions an operation executes does not. Each workload of
``bench/lua.py`` runs under callgrind once with one round and once with
three; the difference, divided by the operations of two rounds, is what one
operation costs (start-up and warm-up cancel out).

    python bench/instructions.py                 # every workload
    python bench/instructions.py lua-messages    # one of them

Needs ``valgrind`` on the PATH; takes about a minute per workload.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

WORKLOADS = {
    "lua-messages": (10_000, "send + receive between two Lua processes"),
    "lua-spawn": (2_000, "Lua spawn + start + one message back"),
    "python-spawn": (2_000, "Python process spawn + start + one message back"),
}


def run_workload(name: str, rounds: int, count: int) -> None:
    """Run ``rounds`` rounds of workload ``name`` (this is what callgrind counts)."""
    import lua as lua_bench  # bench/lua.py, beside this file

    from actorflow.app import App
    from actors import Probe

    with App(lua_bench.APP_DIR, extensions=[], progress=lambda message: None) as app:
        node = app.node
        assert node is not None
        with Probe(node, default_timeout=120) as probe:
            round_of: dict[str, Any] = {
                "lua-messages": lambda: lua_bench.message_rate(
                    node, probe, "bench:sender", "bench:receiver", count
                ),
                "lua-spawn": lambda: lua_bench.spawn_rate(node, probe, "bench:spawner", count),
                "python-spawn": lambda: lua_bench.spawn_rate(node, probe, lua_bench.py_spawner, count),
            }
            round_of[name]()  # warm-up: pools, caches, first-use imports
            for _ in range(rounds):
                round_of[name]()


def instructions(name: str, rounds: int, count: int) -> int:
    command = [
        "valgrind",
        "--tool=callgrind",
        "--callgrind-out-file=/dev/null",
        sys.executable,
        __file__,
        "--workload",
        name,
        "--rounds",
        str(rounds),
        "--count",
        str(count),
    ]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stderr
    found = re.search(r"Collected : (\d+)", output)
    if found is None:
        raise RuntimeError(f"no instruction count in callgrind's output:\n{output[-2000:]}")
    return int(found.group(1))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "names", nargs="*", metavar="WORKLOAD", help=f"one of {', '.join(WORKLOADS)} (default: all)"
    )
    parser.add_argument("--workload", choices=list(WORKLOADS), help=argparse.SUPPRESS)
    parser.add_argument("--rounds", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--count", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT / "bench"))
    if args.workload:
        run_workload(args.workload, args.rounds, args.count)
        return
    unknown = [name for name in args.names if name not in WORKLOADS]
    if unknown:
        parser.error(f"unknown workload {unknown[0]!r}: choose from {', '.join(WORKLOADS)}")
    if shutil.which("valgrind") is None:
        raise SystemExit("valgrind is not on the PATH")
    print("Instructions per operation (callgrind)")
    for name in args.names or list(WORKLOADS):
        count, label = WORKLOADS[name]
        one, three = instructions(name, 1, count), instructions(name, 3, count)
        print(f"  {label:<50} {(three - one) / (2 * count):>10,.0f}")


if __name__ == "__main__":
    main()
