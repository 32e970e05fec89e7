"""HTTP benchmark: a request through a Lua handler against a plain Starlette handler, one server.

The app under test runs in this process (uvicorn + Starlette, as ``actorflow
run`` serves it); the load comes from separate client processes (h11 on
asyncio, keep-alive connections, a fixed number of requests in flight), so
the clients do not share the server's interpreter.  Each pair of scenarios runs
on the same server, alternated (A B A B) so a drift of the machine hits both:

* ``hello``: ``GET /api/hello`` served by a ``function.lua`` handler (one Lua
  process per request) against ``GET /plain/hello``, a Starlette handler
  returning the same JSON, on the same uvicorn server;
* ``order``: seed 003's order handler as written (it reads the JSON body and
  starts the order workflow with a business ID) against a Python Starlette
  handler that starts the same workflow with the temporalio client.

Prints requests per second, p50 and p99 latency and the ratios.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.append(str(ROOT / "bench"))  # after the packages, as the other bench scripts do

from _report import run_line, table, write_section  # noqa: E402

APP = """
namespace: app
entries:
  - {name: processes, kind: process.host, host: {workers: 1}}
  - name: gateway
    kind: http.service
    addr: "127.0.0.1:0"
    max_concurrent: 4096
  - {name: api, kind: http.router, meta: {server: gateway}, prefix: /api}
  - {name: hello, kind: function.lua, source: "return function() return {message = 'hello'} end"}
  - {name: get_hello, kind: http.endpoint, meta: {router: api}, method: GET, path: /hello, func: hello}
"""

ORDER_ENTRIES = """
  - {name: temporal_client, kind: temporal.client}
  - {name: worker, kind: temporal.worker, client: app:temporal_client, task_queue: orders}
  - name: order_workflow
    kind: workflow.lua
    source: file://order_workflow.lua
    meta: {temporal: {workflow: {worker: app:worker}}}
  - name: create_order
    kind: function.lua
    source: file://create_order.lua
    method: handler
    modules: [http, json]
  - {name: post_order, kind: http.endpoint, meta: {router: api}, method: POST, path: /orders, func: create_order}
"""

# Waits for a decision that never comes in the benchmark: starting is what is measured.
ORDER_WORKFLOW = """
local function main(order)
    local inbox = process.inbox()
    inbox:receive()
    return {status = "done"}
end
return { main = main }
"""

# Seed 003's handler, as written: the orders example's own file.
CREATE_ORDER = ROOT / "examples" / "orders" / "create_order.lua"


def _client(address: str, path: str, method: str, seconds: float, concurrency: int, queue: Any) -> None:
    """One load process: ``concurrency`` keep-alive connections for ``seconds``; latencies back.

    The client speaks HTTP/1.1 through h11 (uvicorn's own parser) on asyncio
    streams: much lighter than a full client library, so the server, not the
    client, is what limits the rate.
    """
    import h11

    host, port = address.removeprefix("http://").rsplit(":", 1)

    async def connection(deadline: float, latencies: list[float], failures: list[int]) -> None:
        loop = asyncio.get_running_loop()
        reader, writer = await asyncio.open_connection(host, int(port))
        conn = h11.Connection(h11.CLIENT)
        try:
            while loop.time() < deadline:
                body = b""
                headers = [("host", f"{host}:{port}")]
                if method == "POST":
                    body = json.dumps({"id": uuid.uuid4().hex, "customer_id": "ada", "total": 42}).encode()
                    headers += [("content-type", "application/json"), ("content-length", str(len(body)))]
                began = loop.time()
                data = conn.send(h11.Request(method=method, target=path, headers=headers))
                if body:
                    data += conn.send(h11.Data(data=body))
                data += conn.send(h11.EndOfMessage())
                writer.write(data)
                status = 0
                while True:
                    event = conn.next_event()
                    if event is h11.NEED_DATA:
                        conn.receive_data(await reader.read(65536))
                    elif isinstance(event, h11.Response):
                        status = event.status_code
                    elif isinstance(event, h11.EndOfMessage):
                        break
                latencies.append(loop.time() - began)
                if status >= 400:
                    failures.append(status)
                conn.start_next_cycle()
        finally:
            writer.close()

    async def main() -> tuple[list[float], list[int]]:
        latencies: list[float] = []
        failures: list[int] = []
        deadline = asyncio.get_running_loop().time() + seconds
        await asyncio.gather(*(connection(deadline, latencies, failures) for _ in range(concurrency)))
        return latencies, failures

    queue.put(asyncio.run(main()))


def load(
    address: str, path: str, method: str, seconds: float, clients: int, concurrency: int
) -> dict[str, Any]:
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    processes = [
        context.Process(target=_client, args=(address, path, method, seconds, concurrency, queue))
        for _ in range(clients)
    ]
    began = time.monotonic()
    cpu_began = time.process_time()  # this process's: the server's, never the clients'
    for process in processes:
        process.start()
    latencies: list[float] = []
    failures: list[int] = []
    for _ in processes:
        got, failed = queue.get(timeout=seconds + 120)
        latencies.extend(got)
        failures.extend(failed)
    for process in processes:
        process.join()
    cpu = time.process_time() - cpu_began
    took = time.monotonic() - began
    latencies.sort()
    return {
        "requests": len(latencies),
        "rate": len(latencies) / seconds,
        "p50": statistics.median(latencies) * 1000 if latencies else float("nan"),
        "p99": latencies[int(len(latencies) * 0.99) - 1] * 1000 if latencies else float("nan"),
        "failures": len(failures),
        "wall": took,
        "cpu_us": cpu / len(latencies) * 1e6 if latencies else float("nan"),
    }


def _merge(runs: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "rate": statistics.mean(run["rate"] for run in runs),
        "p50": statistics.mean(run["p50"] for run in runs),
        "p99": statistics.mean(run["p99"] for run in runs),
        "failures": sum(run["failures"] for run in runs),
        "requests": sum(run["requests"] for run in runs),
        "cpu_us": statistics.mean(run["cpu_us"] for run in runs),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="length of one measured run")
    parser.add_argument("--rounds", type=int, default=2, help="A B rounds per comparison")
    parser.add_argument("--clients", type=int, default=1, help="client processes")
    parser.add_argument("--concurrency", type=int, default=16, help="requests in flight per client")
    parser.add_argument("--no-order", action="store_true", help="only the hello comparison (no Temporal)")
    parser.add_argument("--no-hello", action="store_true", help="only the order comparison")
    parser.add_argument("--write", action="store_true", help="put the figures in docs/benchmarks.md")
    args = parser.parse_args()
    rows: list[list[str]] = []
    load_before = os.getloadavg()[0]  # the machine is shared: the report says how busy it was

    import logging

    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    from actorflow.app import App, default_extensions
    from actorflow.http import http_units

    logging.basicConfig(level=logging.WARNING)
    with_order = not args.no_order
    state: dict[str, Any] = {}

    async def plain_hello(request: Request) -> JSONResponse:
        return JSONResponse({"message": "hello"})

    async def python_order(request: Request) -> JSONResponse:
        """What a Python service would do: start the workflow with the temporalio client."""
        order = json.loads(await request.body())
        bench_app: App = state["app"]
        runtime = bench_app.temporal
        client = runtime.clients["app:temporal_client"]
        coro = client.start_workflow(
            state["workflow_type"], order, id=f"py-order-{order['id']}", task_queue=state["task_queue"]
        )
        try:
            handle = await asyncio.wrap_future(runtime.loop.submit(coro))
        except Exception as exc:
            return JSONResponse({"error": str(exc)}, status_code=409)
        return JSONResponse({"workflow_id": handle.id, "status": "started"}, status_code=202)

    def units(app: App) -> list[Any]:
        made = http_units(app)
        for unit in made:
            unit.extra_routes.append(Route("/plain/hello", plain_hello))
            unit.extra_routes.append(Route("/plain/orders", python_order, methods=["POST"]))
        return made

    with tempfile.TemporaryDirectory(prefix="bench-http-") as tmp:
        root = Path(tmp) / "app"
        root.mkdir()
        (root / "app.yaml").write_text(APP + (ORDER_ENTRIES if with_order else ""))
        (root / "order_workflow.lua").write_text(ORDER_WORKFLOW)
        (root / "create_order.lua").write_text(CREATE_ORDER.read_text())
        # The app's own extensions, with the benchmark's Starlette routes added to its HTTP service.
        extensions = [units if extension is http_units else extension for extension in default_extensions()]
        app = App(root, state_dir=Path(tmp) / "state", extensions=extensions)
        app.start()
        state["app"] = app
        try:
            address = app.http["app:gateway"].address
            if with_order:
                from temporal_bridge.entries import workflow_type_name

                state["workflow_type"] = workflow_type_name(app.registry.require("app:order_workflow"))
                state["task_queue"] = app.temporal.configs[0].task_queue
            comparisons = [] if args.no_hello else [("hello", ("GET", "/api/hello"), ("GET", "/plain/hello"))]
            if with_order:
                comparisons.append(("order", ("POST", "/api/orders"), ("POST", "/plain/orders")))
            print(f"server {address}; {args.clients} client process(es) × {args.concurrency} in flight, "
                  f"{args.rounds} × {args.seconds:g} s per side")  # fmt: skip
            for name, lua_side, python_side in comparisons:
                load(address, lua_side[1], lua_side[0], 1.0, args.clients, args.concurrency)  # warm-up
                load(address, python_side[1], python_side[0], 1.0, args.clients, args.concurrency)
                lua_runs, python_runs = [], []
                for _ in range(args.rounds):
                    lua_runs.append(
                        load(address, lua_side[1], lua_side[0], args.seconds, args.clients, args.concurrency)
                    )
                    python_runs.append(
                        load(
                            address,
                            python_side[1],
                            python_side[0],
                            args.seconds,
                            args.clients,
                            args.concurrency,
                        )
                    )
                lua, python = _merge(lua_runs), _merge(python_runs)
                label = "Lua handler" if name == "hello" else "seed 003 handler (Lua)"
                peer = "Starlette handler" if name == "hello" else "Python + temporalio client"
                print(f"\n{name}:")
                for text, result in ((label, lua), (peer, python)):
                    print(f"  {text:<28} {result['rate']:8.0f} req/s   p50 {result['p50']:6.2f} ms   "
                          f"p99 {result['p99']:7.2f} ms   {result['cpu_us']:5.0f} µs CPU/req   "
                          f"({result['requests']} requests, {result['failures']} failed)")  # fmt: skip
                ratio = lua["rate"] / python["rate"]
                print(f"  ratio Lua / Python: {ratio:.2f}×")
                rows.append(_row(name, label, peer, lua, python, ratio))
        finally:
            app.stop()
    if args.write:
        _write(rows, args, (load_before, os.getloadavg()[0]))
    return 0


TARGETS = {"hello": 0.5, "order": 0.8}


def _row(name: str, label: str, peer: str, lua: dict, python: dict, ratio: float) -> list[str]:
    """One line of the report: both sides' rate and latencies, the ratio and its target."""

    def side(result: dict) -> str:
        return (
            f"{result['rate']:,.0f} req/s (p50 {result['p50']:.1f} ms, p99 {result['p99']:.1f} ms; "
            f"{result['cpu_us']:,.0f} µs CPU/req)"
        )

    return [f"{name}: {label} vs {peer}", side(lua), side(python), f"{ratio:.2f}×", f"≥ {TARGETS[name]:.1f}×"]


def _write(rows: list[list[str]], args: argparse.Namespace, load: tuple[float, float]) -> None:
    how = (
        f"`python bench/http_serving.py --write`: {args.clients} client process(es) × {args.concurrency} "
        f"requests in flight, {args.rounds} alternated rounds × {args.seconds:g} s per side, one uvicorn server; "
        f"load average {load[0]:.1f} before, {load[1]:.1f} after; CPU/req is the server process's CPU time "
        "(all its threads) per request"
    )
    header = ["comparison", "actorflow (Lua)", "peer (Python)", "ratio", "target"]
    write_section(
        "http", "HTTP serving", [run_line(how), "", *table(header, rows)], before="Typed Lua erasure"
    )


if __name__ == "__main__":
    sys.exit(main())
