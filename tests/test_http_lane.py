"""HTTP handlers on the server's own thread (``actorflow.http._lane``): what must not change.

The handlers of an ``http.service`` run on its event loop thread.  These
tests drive a real server with real requests and pin what a handler author
relies on: no state leaks from one request to the next (they share one Lua
state), process operations work (a handler has a PID, a mailbox, waits and
wakes), Lua that never waits is ended at the deadline (504) or after
``max_busy`` (500) and the server goes on serving, and a stop ends a handler
that is still streaming and a process a handler left on the service's host.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from actorflow.app import App
from actorflow.http._lane import HandlerHost
from actorflow.http.exchange import FLUSH_WAIT, exchange_of

APP = """
namespace: app
entries:
  - {name: processes, kind: process.host, host: {workers: 2}}
  - {name: gateway, kind: http.service, addr: "127.0.0.1:0", timeouts: {write: 0.4s}, lifecycle: {stop_timeout: 1s}}
  - {name: api, kind: http.router, meta: {server: gateway}, prefix: /api}
  - {name: globals, kind: function.lua, source: file://globals.lua}
  - {name: vandal, kind: function.lua, source: file://vandal.lua}
  - {name: mailbox, kind: function.lua, source: file://mailbox.lua, modules: [funcs]}
  - {name: double, kind: function.lua, source: "return function(n) return n * 2 end"}
  - {name: spin, kind: function.lua, source: "return function() while true do end end"}
  - {name: endless, kind: function.lua, source: file://endless.lua, modules: [http, time]}
  - {name: lingerer, kind: process.lua, source: file://lingerer.lua, modules: [time]}
  - {name: spawner, kind: function.lua, source: "return function() return process.spawn('app:lingerer', 'app:gateway') end"}
  - {name: get_spawner, kind: http.endpoint, meta: {router: api}, method: GET, path: /spawner, func: spawner}
  - {name: bulk, kind: function.lua, source: file://bulk.lua, modules: [http]}
  - {name: get_bulk, kind: http.endpoint, meta: {router: api}, method: GET, path: /bulk, func: bulk}
  - {name: firehose, kind: function.lua, source: file://firehose.lua, modules: [http]}
  - {name: get_firehose, kind: http.endpoint, meta: {router: api}, method: GET, path: /firehose, func: firehose}
  - {name: get_globals, kind: http.endpoint, meta: {router: api}, method: GET, path: /globals, func: globals}
  - {name: get_vandal, kind: http.endpoint, meta: {router: api}, method: GET, path: /vandal, func: vandal}
  - {name: get_mailbox, kind: http.endpoint, meta: {router: api}, method: GET, path: /mailbox, func: mailbox}
  - {name: get_spin, kind: http.endpoint, meta: {router: api}, method: GET, path: /spin, func: spin}
  - {name: get_endless, kind: http.endpoint, meta: {router: api}, method: GET, path: /endless, func: endless}
  - {name: ticks, kind: function.lua, source: file://ticks.lua, modules: [http, time]}
  - {name: get_ticks, kind: http.endpoint, meta: {router: api}, method: GET, path: /ticks, func: ticks}
"""

FILES = {
    # A global set by one request must not be there for the next.
    "globals.lua": """
count = (count or 0) + 1
return function()
    calls = (calls or 0) + 1
    local before = leaked
    leaked = "from an earlier request"
    return {count = count, calls = calls, before = before or "nothing"}
end
""",
    # Changing a library fails and changes nothing for the next request.
    "vandal.lua": """
return function()
    local ok = pcall(function() string.upper = function() return "pwned" end end)
    local ok2 = pcall(function() table.insert = nil end)
    return {changed = ok or ok2, upper = string.upper("a")}
end
""",
    # A PID, a message to itself (received after a wait) and a call to another function.
    "mailbox.lua": """
local funcs = require("funcs")
return function()
    local me = process.pid()
    process.send(me, "note", 21)
    local msg = process.inbox():receive()
    local doubled, err = funcs.new():call("app:double", msg:payload():data())
    return {pid = me, topic = msg:topic(), doubled = doubled, err = err and tostring(err)}
end
""",
    # A process a handler leaves running on the service's own host (its lane is the loop).
    "lingerer.lua": """
local time = require("time")
return function()
    while true do time.sleep(50 * time.MILLISECOND) end
end
""",
    # Flushes for as long as the client takes them.
    "firehose.lua": """
local http = require("http")
return function()
    local res = http.response()
    res:set_transfer(http.TRANSFER.CHUNKED)
    local chunk = string.rep("y", 256 * 1024)
    while true do
        res:write(chunk)
        local err = res:flush()
        if err then error(err) end
    end
end
""",
    # 16 MiB flushed in a loop that never waits otherwise: twice what may be queued for the client.
    "bulk.lua": """
local http = require("http")
return function()
    local res = http.response()
    res:set_transfer(http.TRANSFER.CHUNKED)
    local chunk = string.rep("x", 1024 * 1024)
    for i = 1, 16 do
        res:write(chunk)
        local err = res:flush()
        if err then error(err) end
    end
end
""",
    # Begins its response, then computes and streams for longer than the deadline (0.4 s).
    "ticks.lua": """
local http = require("http")
local time = require("time")
return function()
    local res = http.response()
    res:set_transfer(http.TRANSFER.CHUNKED)
    res:write("start\\n")
    res:flush()
    for tick = 1, 20 do
        local x = 0
        for i = 1, 300000 do x = x + i % 7 end
        res:write("tick " .. tick .. "\\n")
        res:flush()
        time.sleep(40 * time.MILLISECOND)
    end
    res:write("done\\n")
end
""",
    "endless.lua": """
local http = require("http")
local time = require("time")
return function()
    local res = http.response()
    res:set_transfer(http.TRANSFER.CHUNKED)
    while true do
        res:write("tick\\n")
        res:flush()
        time.sleep(20 * time.MILLISECOND)
    end
end
""",
}


def make_app(root: Path, text: str = APP) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "app.yaml").write_text(text)
    for name, source in FILES.items():
        (root / name).write_text(source)
    return root


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[App, httpx.Client]]:
    root = make_app(tmp_path_factory.mktemp("http-lane") / "app")
    with App(root) as app, httpx.Client(base_url=app.http["app:gateway"].address, timeout=10) as client:
        yield app, client


def wait_until(condition: Any, what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


def stalled(exchange: Any) -> bool:
    """The stream's backlog has not moved for 0.3 s."""
    before = exchange._backlog
    time.sleep(0.3)
    return bool(before) and exchange._backlog == before


def wait_no_processes(app: App, timeout: float = 5.0) -> None:
    node = app.node
    assert node is not None
    deadline = time.monotonic() + timeout
    while node.process_count() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert node.process_count() == 0


def test_handlers_run_on_the_servers_loop_thread(served: tuple[App, httpx.Client]) -> None:
    app, client = served
    unit = app.http["app:gateway"]
    assert isinstance(unit.handlers, HandlerHost)
    assert client.get("/api/globals").status_code == 200
    lane = unit.handlers.loop_lane
    assert lane.thread is None  # no thread of its own while the loop serves
    names = [thread.name for thread in threading.enumerate()]
    assert "http-app:gateway" in names
    assert not [name for name in names if name.startswith("app:gateway-lua")]  # no host lane thread


def test_no_global_leaks_from_one_request_to_the_next(served: tuple[App, httpx.Client]) -> None:
    _app, client = served
    answers = [client.get("/api/globals").json() for _ in range(5)]
    assert answers == [{"count": 1, "calls": 1, "before": "nothing"}] * 5


def test_a_handler_cannot_change_the_libraries_the_next_one_uses(served: tuple[App, httpx.Client]) -> None:
    _app, client = served
    for _ in range(3):
        assert client.get("/api/vandal").json() == {"changed": False, "upper": "A"}


def test_a_handler_has_a_pid_a_mailbox_and_calls_functions(served: tuple[App, httpx.Client]) -> None:
    app, client = served
    first = client.get("/api/mailbox").json()
    second = client.get("/api/mailbox").json()
    assert first["topic"] == "note" and first["doubled"] == 42 and "err" not in first
    assert first["pid"].startswith("{") and first["pid"] != second["pid"]
    wait_no_processes(app)


def test_a_handler_flushing_more_than_the_stream_backlog_without_waiting_streams_it_all(
    served: tuple[App, httpx.Client],
) -> None:
    """The server sends while the handler's flush waits: the handler holds the server's thread, so
    without that wait every flush would queue (8 MiB, MAX_STREAM_BACKLOG, fails the rest)."""
    _app, client = served
    with client.stream("GET", "/api/bulk") as streamed:
        size = sum(len(chunk) for chunk in streamed.iter_bytes())
    assert size == 16 * 1024 * 1024


def test_a_client_that_stops_reading_holds_its_handler_in_flush_until_it_goes(
    served: tuple[App, httpx.Client],
) -> None:
    """The flush waits (memory stays bounded) and the other requests are served meanwhile;
    when the client goes, the handler ends."""
    import socket
    from urllib.parse import urlsplit

    app, client = served
    address = urlsplit(app.http["app:gateway"].address)
    node = app.node
    assert node is not None
    sock = socket.create_connection((address.hostname, address.port))
    try:
        sock.sendall(b"GET /api/firehose HTTP/1.1\r\nHost: test\r\n\r\n")
        assert sock.recv(4096).startswith(b"HTTP/1.1 200")
        handlers = app.http["app:gateway"].handlers
        assert handlers is not None
        wait_until(lambda: handlers.pids(), what="the handler")
        exchange = exchange_of(handlers.pids()[0])
        assert exchange is not None
        # Nobody reads: the buffers between the handler and this socket fill, then it waits.
        wait_until(lambda: stalled(exchange), what="the stream to stall")
        assert node.process_count() == 1  # waiting in flush, not failed
        assert exchange._queued <= FLUSH_WAIT + 256 * 1024  # bounded
        assert client.get("/api/globals").status_code == 200  # the server goes on
    finally:
        sock.close()
    wait_no_processes(app)


def test_a_handler_that_has_begun_streaming_is_not_ended_at_the_deadline(
    served: tuple[App, httpx.Client],
) -> None:
    """``timeouts.write`` bounds the wait for a response to begin; once its head went out the
    body streams until the handler ends, however much Lua it runs (the watchdog included)."""
    app, client = served
    began = time.monotonic()
    response = client.get("/api/ticks")
    assert response.status_code == 200
    assert response.text == "start\n" + "".join(f"tick {n}\n" for n in range(1, 21)) + "done\n"
    assert time.monotonic() - began > 0.8  # well past the 0.4 s deadline
    wait_no_processes(app)


def test_lua_that_never_waits_ends_at_the_deadline_and_the_server_goes_on(
    served: tuple[App, httpx.Client],
) -> None:
    """The loop's own timer cannot fire while a handler holds its thread: the watchdog ends it."""
    app, client = served
    began = time.monotonic()
    response = client.get("/api/spin")
    took = time.monotonic() - began
    assert response.status_code == 504 and response.json()["error"]["kind"] == "TIMEOUT"
    assert 0.4 <= took < 1.5, took
    assert client.get("/api/globals").status_code == 200  # the server goes on
    wait_no_processes(app)


def test_lua_that_never_waits_is_ended_after_max_busy_when_its_deadline_is_later(tmp_path: Path) -> None:
    """The other connections wait for the loop's thread: ``max_busy`` (2 s) applies, as on a
    lane with other processes waiting."""
    root = make_app(tmp_path / "app", APP.replace("timeouts: {write: 0.4s}", "timeouts: {write: 30s}"))
    with App(root) as app, httpx.Client(base_url=app.http["app:gateway"].address, timeout=20) as client:
        began = time.monotonic()
        response = client.get("/api/spin")
        took = time.monotonic() - began
        assert response.status_code == 500
        assert response.json()["error"]["kind"] == "LIMIT_EXCEEDED"
        assert 2.0 <= took < 5.0, took
        assert client.get("/api/globals").json()["count"] == 1
        wait_no_processes(app)


def test_stopping_the_app_ends_a_handler_still_streaming_and_what_handlers_left(tmp_path: Path) -> None:
    """The handlers' processes still alive when the loop has stopped are ended by the host's
    stop all the same (a thread of the lane's own runs them then)."""
    root = make_app(tmp_path / "app")
    app = App(root)
    app.start()
    node = app.node
    assert node is not None
    try:
        address = app.http["app:gateway"].address
        got = threading.Event()

        def read() -> None:
            try:
                with (
                    httpx.Client(base_url=address, timeout=30) as client,
                    client.stream("GET", "/api/endless") as streamed,
                ):
                    for _ in streamed.iter_bytes():
                        got.set()
            except httpx.HTTPError:
                pass  # the server closed the stream

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        assert got.wait(10), "no part of the stream arrived"
        with httpx.Client(base_url=address, timeout=10) as client:
            lingering = client.get("/api/spawner").json()
        assert node.is_alive(lingering)  # runs on, on the server's thread, after its spawner ended
    finally:
        began = time.monotonic()
        app.stop()
        took = time.monotonic() - began
    assert took < 6.0, took
    assert node.process_count() == 0
    reader.join(5)
    assert not reader.is_alive()


COMPUTING = """
namespace: app
entries:
  - {name: processes, kind: process.host, host: {workers: 2}}
  - name: gateway
    kind: http.service
    addr: "127.0.0.1:0"
    timeouts: {write: 30s}
    lifecycle: {stop_timeout: 1s}
    host: {lua_threads: LUA_THREADS}
  - {name: api, kind: http.router, meta: {server: gateway}, prefix: /api}
  - {name: compute, kind: function.lua, source: file://compute.lua}
  - {name: get_compute, kind: http.endpoint, meta: {router: api}, method: GET, path: /compute, func: compute}
"""

# Lua that computes without waiting (about half a second here with the watchdog's hook, well
# under max_busy's 2 s), then answers.
COMPUTE = """
return function()
    local x = 0
    for i = 1, 30000000 do x = x + i % 7 end
    return {done = x > 0}
end
"""


def _answers_while_computing(tmp_path: Path, lua_threads: int) -> float:
    """How much earlier than a computing handler a 404 asked for while it computes answers (s).

    Each side notes when its answer arrived; the difference is what is compared, with margins
    far above scheduling noise (the computation takes about half a second).
    """
    root = tmp_path / "app"
    root.mkdir()
    (root / "app.yaml").write_text(COMPUTING.replace("LUA_THREADS", str(lua_threads)))
    (root / "compute.lua").write_text(COMPUTE)
    answered: dict[str, float] = {}
    computed: list[tuple[int, Any]] = []
    with App(root) as app:
        base = app.http["app:gateway"].address
        node = app.node
        assert node is not None

        def compute() -> None:
            with httpx.Client(base_url=base, timeout=20) as client:
                response = client.get("/api/compute")
                answered["compute"] = time.monotonic()
                computed.append((response.status_code, response.json()))

        computing = threading.Thread(target=compute)
        computing.start()
        wait_until(lambda: node.process_count() == 1, "the handler to run")
        with httpx.Client(base_url=base, timeout=20) as client:
            assert client.get("/api/missing").status_code == 404
            answered["404"] = time.monotonic()
        computing.join(timeout=20)
        wait_no_processes(app)
    assert computed == [(200, {"done": True})]  # checked here: a thread's assert fails no test
    return answered["compute"] - answered["404"]


def test_lua_threads_1_leaves_the_server_answering_while_a_handler_computes(tmp_path: Path) -> None:
    """``host: {lua_threads: 1}``: the handlers' Lua on a thread of the host's own, so a 404
    asked for while a handler computes answers long before it."""
    assert _answers_while_computing(tmp_path, 1) > 0.2


def test_by_default_a_handler_that_computes_holds_the_server_until_it_waits(tmp_path: Path) -> None:
    """The default (``lua_threads: 0``): the handlers' Lua runs on the server's own thread, so
    what the server answers meanwhile waits for the computation (the trade-off documented)."""
    assert _answers_while_computing(tmp_path, 0) < 0.05


def test_lua_threads_of_an_http_service_are_checked_at_load(tmp_path: Path) -> None:
    from actors.entries import AppLoadError, load_app

    for bad in ("-1", "65", "two", "true"):
        root = tmp_path / f"bad{bad}"
        root.mkdir()
        (root / "app.yaml").write_text(COMPUTING.replace("LUA_THREADS", bad))
        (root / "compute.lua").write_text(COMPUTE)
        with pytest.raises(AppLoadError) as caught:
            load_app(root)
        assert (
            "app.yaml:5: app:gateway: host.lua_threads must be 0 (the server's own thread) to 64, got"
            in str(caught.value)
        ), str(caught.value)
