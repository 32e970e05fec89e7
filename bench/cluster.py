"""Cluster benchmark: two nodes against one, our transport against nats-py, node-down time.

Every node is its own OS process (this script with ``--node``), on one
embedded NATS server started here, all in one run:

* **app on two nodes vs one** (best of ``--repeat``): ``--pairs`` Lua sender→receiver pairs per node
  (``bench/apps/cluster``), each sender sending ``--count`` numbers, one in
  ``--every`` of them to a receiver on the other node; against the same app,
  all pairs, on a single node.  Aggregate Lua messages per second (target
  ≥ 1.6×), and the same in CPU time: the CPU seconds of the one node
  against those of the busier of the two, which is what the two nodes give
  on two free cores, whatever else the machine runs (the wall-clock figure
  is only that on a quiet machine).  Also shown: what a crossing message costs
  in CPU (both nodes' CPU seconds against the same two nodes with nothing
  crossing, per message that crossed), and every message crossing.
* **cross-node send**: a Python sender on one node, a Python process counting
  on the other, against nats-py publishing (no flush per message) to a
  nats-py subscriber in another process on the same server (target ≥ 0.7×);
  **request/reply**: a round trip to an echo process on the other node
  against ``nc.request`` to a nats-py responder.
* **node down**: ``--links`` processes on one node linked from a trapping
  process on another; SIGKILL of the first; time to the last LINK_DOWN, with
  the default failure timeout.

``python bench/cluster.py`` prints the figures; ``--write`` replaces the
cluster section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.append(str(ROOT / "bench"))  # after the packages: bench/cluster.py must not shadow them

from _report import run_line, table, write_section  # noqa: E402

APP_DIR = ROOT / "bench" / "apps" / "cluster"
FRAME_LINGER: float | None = None  # what the coordinator gives its nodes (--frame-linger; None: the default)
HOST = "bench:processes"


# -- one node (``--node``): answers JSON commands on stdin -----------------------------------------


async def py_sink(proc: Any, count: int) -> None:
    numbers = proc.listen("n")
    hello = proc.listen("hello")
    observer, _ = await hello.receive()
    for _ in range(count):
        await numbers.receive()
    proc.send(observer, "done", count)


async def py_echo(proc: Any) -> None:
    pings = proc.listen("ping")
    while True:
        reply_to, ok = await pings.receive()
        if not ok:
            return
        proc.send(reply_to, "pong", 1)


async def py_idle(proc: Any) -> None:
    await proc.inbox().receive()


_TICK = os.sysconf("SC_CLK_TCK")


def cpu_of(pid: int | str = "self", tid: int | None = None) -> float:
    """CPU seconds (user + system) of a process (all its threads), or of one of its threads."""
    path = f"/proc/{pid}/task/{tid}/stat" if tid is not None else f"/proc/{pid}/stat"
    fields = Path(path).read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / _TICK


def machine_cpu() -> float:
    """CPU seconds every process of the machine has used (all cores), from /proc/stat."""
    fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(x) for x in fields[:8])
    return (user + nice + system + irq + softirq + steal) / _TICK


def thread_cpu() -> dict[str, float]:
    """CPU seconds of each live Python thread of this process, by name."""
    import threading

    spent: dict[str, float] = {}
    for thread in threading.enumerate():
        try:
            seconds = cpu_of("self", thread.native_id)
        except OSError:
            continue
        name = thread.name.split("-worker-")[0] + ("-worker" if "-worker-" in thread.name else "")
        spent[name] = spent.get(name, 0.0) + seconds
    return spent


class NodeRunner:
    def __init__(
        self, name: str, address: str, failure_timeout: float, heartbeat: float, frame_linger: float | None
    ) -> None:
        from actorflow.app import App
        from actors import Probe
        from cluster import Cluster

        self.app = App(APP_DIR, extensions=[], progress=lambda message: None).start()
        self.node = self.app.node
        linger = {} if frame_linger is None else {"frame_linger": frame_linger}
        self.cluster = Cluster(
            self.node,
            name,
            address=address,
            failure_timeout=failure_timeout,
            heartbeat_interval=heartbeat,
            **linger,
        ).start()
        self.name = name
        self.probe = Probe(self.node, trap_links=True)
        self.receivers: list[str] = []

    def handle(self, command: dict[str, Any]) -> Any:
        cmd = command["cmd"]
        node = self.node
        probe = self.probe
        if cmd == "nodes":
            return self.cluster.member_names()
        if cmd == "lua_setup":
            self.receivers = [
                str(node.spawn("bench:receiver", command["count"], probe.pid, host=HOST))
                for _ in range(command["pairs"])
            ]
            return self.receivers
        if cmd == "lua_go":
            remote = command.get("remote") or [None] * len(self.receivers)
            threads_before = thread_cpu()
            traffic = self.cluster.traffic()
            cpu = cpu_of()
            start = time.time()
            for near, far in zip(self.receivers, remote, strict=True):
                node.spawn("bench:sender", near, far, command["count"], command["every"], host=HOST)
            for _ in self.receivers:
                probe.expect_message("done", timeout=300)
            end = time.time()
            threads = {
                name: round(spent - threads_before.get(name, 0.0), 2) for name, spent in thread_cpu().items()
            }
            after = self.cluster.traffic()
            return {
                "start": start,
                "end": end,
                "cpu": cpu_of() - cpu,
                "threads": threads,
                "frames": after["frames_out"] - traffic["frames_out"],
                "entries": after["entries_out"] - traffic["entries_out"],
            }
        if cmd == "sink":
            return str(node.spawn(py_sink, command["count"]))
        if cmd == "blast":
            dest = node.resolve(command["dest"])
            count = command["count"]
            send = node.send
            start = time.perf_counter()
            send(dest, "hello", probe.pid)
            for index in range(count):
                send(dest, "n", index)
            probe.expect_message("done", timeout=300)
            return count / (time.perf_counter() - start)
        if cmd == "echo":
            return str(node.spawn(py_echo))
        if cmd == "pingpong":
            dest = node.resolve(command["dest"])
            count = command["count"]
            for _ in range(50):  # warm up
                node.send(dest, "ping", probe.pid)
                probe.expect_message("pong", timeout=10)
            start = time.perf_counter()
            for _ in range(count):
                node.send(dest, "ping", probe.pid)
                probe.expect_message("pong", timeout=10)
            return (time.perf_counter() - start) / count
        if cmd == "idle":
            return [str(node.spawn(py_idle)) for _ in range(command["count"])]
        if cmd == "link_all":
            for pid in command["pids"]:
                probe.link(pid)
            return True
        if cmd == "wait_downs":
            last = 0.0
            for _ in range(command["count"]):
                down = probe.receive(timeout=60)
                last = max(last, getattr(down, "at", 0.0))
            return last
        raise ValueError(f"unknown command {cmd}")


def node_main(args: argparse.Namespace) -> None:
    runner = NodeRunner(args.node, args.address, args.failure_timeout, args.heartbeat, args.frame_linger)
    print(json.dumps({"ready": args.node}), flush=True)
    for line in sys.stdin:
        command = json.loads(line)
        if command["cmd"] == "stop":
            break
        try:
            print(json.dumps({"ok": True, "value": runner.handle(command)}), flush=True)
        except Exception as exc:
            print(json.dumps({"ok": False, "error": f"{type(exc).__name__}: {exc}"}), flush=True)
    runner.probe.close()
    runner.app.stop()
    runner.cluster.stop()


# -- nats-py peers (``--nats``) -------------------------------------------------------------------------


async def nats_main(args: argparse.Namespace) -> None:
    import msgpack
    import nats

    nc = await nats.connect(args.address)
    role, count = args.nats, args.count
    if role == "sub":
        done = asyncio.Event()
        seen = 0
        reply_to: list[str] = []

        async def on_msg(msg: Any) -> None:
            nonlocal seen
            if msg.reply:
                reply_to.append(msg.reply)
                return
            seen += 1
            if seen == count:
                done.set()

        await nc.subscribe("bench.data", cb=on_msg)
        await nc.flush()
        print(json.dumps({"ready": "sub"}), flush=True)
        await done.wait()
        while not reply_to:
            await asyncio.sleep(0.001)
        await nc.publish(reply_to[0], b"done")
        await nc.flush()
    elif role == "pub":
        inbox = nc.new_inbox()
        finished = asyncio.Event()

        async def on_done(msg: Any) -> None:
            finished.set()

        await nc.subscribe(inbox, cb=on_done)
        start = time.perf_counter()
        await nc.publish("bench.data", b"", reply=inbox)
        for index in range(count):
            await nc.publish("bench.data", msgpack.packb(index))
        await nc.flush()
        await finished.wait()
        print(json.dumps({"value": count / (time.perf_counter() - start)}), flush=True)
    elif role == "responder":

        async def answer(msg: Any) -> None:
            await nc.publish(msg.reply, msg.data)

        await nc.subscribe("bench.echo", cb=answer)
        await nc.flush()
        print(json.dumps({"ready": "responder"}), flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    elif role == "requester":
        for _ in range(50):
            await nc.request("bench.echo", b"x", timeout=5)
        start = time.perf_counter()
        for _ in range(count):
            await nc.request("bench.echo", b"x", timeout=5)
        print(json.dumps({"value": (time.perf_counter() - start) / count}), flush=True)
    await nc.close()


# -- the coordinator ------------------------------------------------------------------------------------------


class Child:
    def __init__(self, *argv: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, __file__, *argv],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            bufsize=1,
        )

    def line(self) -> dict[str, Any]:
        assert self.process.stdout is not None
        text = self.process.stdout.readline()
        if not text:
            raise RuntimeError(f"child {self.process.args} ended")
        return json.loads(text)

    def send(self, cmd: str, **fields: Any) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps({"cmd": cmd, **fields}) + "\n")
        self.process.stdin.flush()

    def call(self, cmd: str, **fields: Any) -> Any:
        self.send(cmd, **fields)
        reply = self.line()
        if not reply.get("ok"):
            raise RuntimeError(reply.get("error"))
        return reply["value"]

    def stop(self) -> None:
        if self.process.poll() is None:
            try:
                self.send("stop")
                self.process.stdin.close()  # type: ignore[union-attr]
                self.process.wait(30)
            except (OSError, subprocess.TimeoutExpired):
                self.process.kill()
                self.process.wait()


def start_node(name: str, address: str, failure_timeout: float = 3.0, heartbeat: float = 0.5) -> Child:
    linger = () if FRAME_LINGER is None else ("--frame-linger", str(FRAME_LINGER))
    child = Child(
        "--node",
        name,
        "--address",
        address,
        "--failure-timeout",
        str(failure_timeout),
        "--heartbeat",
        str(heartbeat),
        *linger,
    )
    ready = child.line()
    assert ready.get("ready") == name, ready
    return child


def wait_members(nodes: list[Child], names: list[str]) -> None:
    deadline = time.monotonic() + 30
    while any(node.call("nodes") != names for node in nodes):
        if time.monotonic() > deadline:
            raise RuntimeError("nodes did not see each other")
        time.sleep(0.05)


@dataclass
class LuaRun:
    """One run of the Lua app: wall-clock throughput and where the CPU went."""

    rate: float
    """Messages per second, all nodes together (wall clock)."""
    messages: int
    cpu: list[float]
    """CPU seconds of each node's OS process (every thread) during the run."""
    threads: list[dict[str, float]]
    """CPU seconds of each node's threads: its host's worker, its cluster loop."""
    server_cpu: float
    """CPU seconds of the nats-server during the run."""
    elapsed: float
    machine: float
    """CPU seconds the whole machine used during the run (every process, every core)."""
    frames: int = 0
    entries: int = 0

    @property
    def busiest(self) -> float:
        """CPU seconds of the busiest node: the run's length on free cores."""
        return max(self.cpu)

    @property
    def others(self) -> float:
        """Cores busy with other processes than the nodes and the server, on average."""
        return max(0.0, self.machine - sum(self.cpu) - self.server_cpu) / self.elapsed


def lua_two_nodes(address: str, server_pid: int, pairs: int, count: int, every: int) -> LuaRun:
    """The app on nodes a and b; ``every`` 0: nothing crosses (each sender sends only to its node)."""
    a, b = start_node("a", address), start_node("b", address)
    try:
        wait_members([a, b], ["a", "b"])
        recv_a = a.call("lua_setup", pairs=pairs, count=count)
        recv_b = b.call("lua_setup", pairs=pairs, count=count)
        server_cpu, machine = cpu_of(server_pid), machine_cpu()
        a.send("lua_go", remote=recv_b if every else None, count=count, every=every or 1)
        b.send("lua_go", remote=recv_a if every else None, count=count, every=every or 1)
        spans = [a.line()["value"], b.line()["value"]]
        server_cpu, machine = cpu_of(server_pid) - server_cpu, machine_cpu() - machine
    finally:
        a.stop()
        b.stop()
    elapsed = max(s["end"] for s in spans) - min(s["start"] for s in spans)
    return LuaRun(
        2 * pairs * count / elapsed,
        2 * pairs * count,
        [s["cpu"] for s in spans],
        [s["threads"] for s in spans],
        server_cpu,
        elapsed,
        machine,
        sum(s["frames"] for s in spans),
        sum(s["entries"] for s in spans),
    )


def lua_one_node(address: str, server_pid: int, pairs: int, count: int) -> LuaRun:
    a = start_node("solo", address)
    try:
        a.call("lua_setup", pairs=2 * pairs, count=count)
        server_cpu, machine = cpu_of(server_pid), machine_cpu()
        span = a.call("lua_go", count=count, every=1)
        server_cpu, machine = cpu_of(server_pid) - server_cpu, machine_cpu() - machine
    finally:
        a.stop()
    elapsed = span["end"] - span["start"]
    rate = 2 * pairs * count / elapsed
    return LuaRun(rate, 2 * pairs * count, [span["cpu"]], [span["threads"]], server_cpu, elapsed, machine)


def transport(address: str, count: int, round_trips: int) -> tuple[float, float, float, float]:
    a, b = start_node("a", address), start_node("b", address)
    try:
        wait_members([a, b], ["a", "b"])
        sink = b.call("sink", count=count)
        ours = a.call("blast", dest=sink, count=count)
        echo = b.call("echo")
        our_rtt = a.call("pingpong", dest=echo, count=round_trips)
    finally:
        a.stop()
        b.stop()
    sub = Child("--nats", "sub", "--address", address, "--count", str(count))
    assert sub.line().get("ready") == "sub"
    pub = Child("--nats", "pub", "--address", address, "--count", str(count))
    theirs = pub.line()["value"]
    sub.process.wait(30)
    pub.process.wait(30)
    responder = Child("--nats", "responder", "--address", address)
    assert responder.line().get("ready") == "responder"
    requester = Child("--nats", "requester", "--address", address, "--count", str(round_trips))
    their_rtt = requester.line()["value"]
    requester.process.wait(30)
    responder.process.stdin.close()  # type: ignore[union-attr]
    responder.process.wait(30)
    return ours, theirs, our_rtt, their_rtt


def node_down(address: str, links: int) -> float:
    a, b = start_node("a", address), start_node("b", address)
    try:
        wait_members([a, b], ["a", "b"])
        pids = b.call("idle", count=links)
        a.call("link_all", pids=pids)
        a.send("wait_downs", count=links)
        time.sleep(0.5)  # let the link requests arrive before the kill (they are in flight)
        killed = time.time()
        os.kill(b.process.pid, signal.SIGKILL)
        b.process.wait()
        last = a.line()["value"]
    finally:
        a.stop()
        b.stop()
    return last - killed


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--node")
    parser.add_argument("--nats")
    parser.add_argument("--address")
    parser.add_argument("--failure-timeout", type=float, default=3.0)
    parser.add_argument("--heartbeat", type=float, default=0.5)
    parser.add_argument(
        "--frame-linger",
        type=float,
        default=None,
        help="Cluster(frame_linger=…) of every node (0: off; default: the Cluster's default)",
    )
    parser.add_argument("--pairs", type=int, default=2)
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3, help="best of N for the Lua app figures")
    parser.add_argument("--every", type=int, default=10)
    parser.add_argument("--messages", type=int, default=200_000)
    parser.add_argument("--round-trips", type=int, default=2_000)
    parser.add_argument("--links", type=int, default=1_000)
    parser.add_argument(
        "--write", action="store_true", help="replace the cluster section of docs/benchmarks.md"
    )
    args = parser.parse_args()
    if args.node:
        node_main(args)
        return
    if args.nats:
        asyncio.run(nats_main(args))
        return
    global FRAME_LINGER
    FRAME_LINGER = args.frame_linger

    from cluster import EmbeddedNats

    loads = [os.getloadavg()[0]]
    with tempfile.TemporaryDirectory() as state:
        server = EmbeddedNats(Path(state) / "nats")
        address = server.start()
        server_pid = int(json.loads(server.info_file.read_text())["pid"])
        try:
            ones: list[LuaRun] = []
            twos: list[LuaRun] = []
            apart: list[LuaRun] = []  # the same two nodes with nothing crossing: what crossing costs
            for _ in range(args.repeat):  # alternated: a busy moment of the machine hits all three
                ones.append(lua_one_node(address, server_pid, args.pairs, args.count))
                twos.append(lua_two_nodes(address, server_pid, args.pairs, args.count, args.every))
                apart.append(lua_two_nodes(address, server_pid, args.pairs, args.count, 0))
            crossing = lua_two_nodes(address, server_pid, args.pairs, args.count // 4, 1)
            loads.append(os.getloadavg()[0])
            ours, theirs, our_rtt, their_rtt = transport(address, args.messages, args.round_trips)
            down = node_down(address, args.links)
        finally:
            server.stop()
    loads.append(os.getloadavg()[0])
    one = max(ones, key=lambda run: run.rate)
    two = max(twos, key=lambda run: run.rate)
    one_cpu = min(run.busiest for run in ones)
    lean = min(twos, key=lambda run: run.busiest)
    crossed = 2 * args.pairs * (args.count // args.every)  # messages that crossed in a 2-node run
    per_crossing = (min(sum(r.cpu) for r in twos) - min(sum(r.cpu) for r in apart)) / crossed
    rows = [
        (
            f"Lua app, 1 in {args.every} messages crossing: 2 nodes vs 1",
            f"{two.rate:,.0f} msgs/s",
            f"{one.rate:,.0f} msgs/s",
            f"{two.rate / one.rate:.2f}×",
            "≥ 1.6×",
        ),
        (
            "  the same in CPU: busiest node's CPU-s, 1 node / 2 nodes",
            f"{lean.busiest:.2f} CPU-s",
            f"{one_cpu:.2f} CPU-s",
            f"{one_cpu / lean.busiest:.2f}×",
            "(on 2 free cores)",
        ),
        (
            "  CPU per crossing message (both nodes; against nothing crossing)",
            f"{per_crossing * 1e6:.1f} µs",
            "—",
            "—",
            "—",
        ),
        (
            "Lua app, every message crossing: 2 nodes vs 1",
            f"{crossing.rate:,.0f} msgs/s",
            f"{one.rate:,.0f} msgs/s",
            f"{crossing.rate / one.rate:.2f}×",
            "—",
        ),
        (
            "cross-node send vs nats-py pub/sub",
            f"{ours:,.0f} msgs/s",
            f"{theirs:,.0f} msgs/s",
            f"{ours / theirs:.2f}×",
            "≥ 0.7×",
        ),
        (
            "request/reply round trip vs nc.request",
            f"{our_rtt * 1e6:,.0f} µs",
            f"{their_rtt * 1e6:,.0f} µs",
            f"{their_rtt / our_rtt:.2f}×",
            "—",
        ),
        (
            f"SIGKILL → last of {args.links} LINK_DOWN (failure timeout 3 s)",
            f"{down:.2f} s",
            "—",
            "—",
            "≤ 5 s",
        ),
    ]
    notes = [
        f"load average {' → '.join(f'{load:.1f}' for load in loads)} (start, after the Lua runs, end)",
        f"Lua app runs (msgs/s, wall): 1 node {_rates(ones)}; 2 nodes {_rates(twos)}; "
        f"2 nodes, nothing crossing {_rates(apart)}",
        "CPU-s of both nodes: 1 in "
        f"{args.every} crossing {', '.join(f'{sum(r.cpu):.2f}' for r in twos)}; "
        f"nothing crossing {', '.join(f'{sum(r.cpu):.2f}' for r in apart)}",
        f"cores busy with other processes meanwhile: 1-node runs {_others(ones)}; "
        f"2-node runs {_others(twos)} (of {os.cpu_count()})",
    ]
    for name, node_cpu, threads in zip(("a", "b"), lean.cpu, lean.threads, strict=True):
        spent = ", ".join(f"{thread} {seconds:.2f}" for thread, seconds in sorted(threads.items()) if seconds)
        notes.append(f"2 nodes, node {name}: {node_cpu:.2f} CPU-s ({spent}); 1 node: {one_cpu:.2f} CPU-s")
    notes.append(
        f"2 nodes: nats-server {lean.server_cpu:.2f} CPU-s; "
        f"{lean.entries / max(lean.frames, 1):.1f} entries a frame ({lean.entries:,} in {lean.frames:,})"
    )
    print(f"cluster benchmark, {os.cpu_count()} cores, Python {sys.version.split()[0]}")
    for name, ours_, theirs_, ratio, target in rows:
        print(f"  {name:<60} ours {ours_:>16}  peer {theirs_:>16}  ratio {ratio:>7}  target {target}")
    for note in notes:
        print(f"  {note}")
    if args.write:
        how = f"`python bench/cluster.py` (nodes are OS processes on one embedded nats-server, best of {args.repeat})"
        header = ["measurement", "ours", "peer", "ratio", "target"]
        body = [(name.strip(), *cells) for name, *cells in rows]
        write_section(
            "cluster", "Cluster", [run_line(how), "", *table(header, body), "", *(f"* {n}" for n in notes)]
        )


def _rates(runs: list[LuaRun]) -> str:
    return ", ".join(f"{run.rate:,.0f}" for run in runs)


def _others(runs: list[LuaRun]) -> str:
    return ", ".join(f"{run.others:.2f}" for run in runs)


if __name__ == "__main__":
    main()
