"""HTTP entries served for real: uvicorn on a loopback port, requests with httpx."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from actorflow.app import App
from actors.entries import AppLoadError

APP = """
namespace: app
entries:
  - {name: processes, kind: process.host, host: {workers: 2}}
  - name: gateway
    kind: http.service
    addr: "127.0.0.1:0"
    timeouts: {write: 1s}
    max_body: 1000
  - name: api
    kind: http.router
    meta: {server: gateway}
    prefix: /api
    middleware: [cors]
    options: {cors.allow.origins: "https://app.example.com"}
  - {name: echo, kind: function.lua, source: file://echo.lua}
  - {name: nothing, kind: function.lua, source: "return function() end"}
  - {name: boom, kind: function.lua, source: "return function() error('kaboom') end"}
  - {name: fails, kind: function.lua, source: "return function() return nil, errors.new({kind = errors.NOT_FOUND, message = 'no such thing'}) end"}
  - {name: sleepy, kind: function.lua, source: file://sleepy.lua, modules: [time]}
  - {name: get_item, kind: http.endpoint, meta: {router: api}, method: GET, path: "/items/{id}", func: echo}
  - {name: any_file, kind: http.endpoint, meta: {router: api}, method: GET, path: "/files/{rest...}", func: echo}
  - {name: empty, kind: http.endpoint, meta: {router: api}, method: DELETE, path: "/items/{id}", func: nothing}
  - {name: crash, kind: http.endpoint, meta: {router: api}, method: POST, path: /crash, func: boom}
  - {name: err, kind: http.endpoint, meta: {router: api}, method: GET, path: /err, func: fails}
  - {name: sleep, kind: http.endpoint, meta: {router: api}, method: GET, path: "/sleep/{ms}", func: sleepy}
"""

FILES = {
    "echo.lua": "return function() return {ok = true, list = {1, 2, 3}} end\n",
    "sleepy.lua": """
local time = require("time")
return function()
    time.sleep(300 * time.MILLISECOND)
    return {slept = true}
end
""",
}


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[App, httpx.Client]]:
    root = tmp_path_factory.mktemp("http-app")
    (root / "app.yaml").write_text(APP)
    for name, text in FILES.items():
        (root / name).write_text(text)
    with App(root) as app:
        address = app.http["app:gateway"].address
        with httpx.Client(base_url=address, timeout=10) as client:
            yield app, client


def wait_no_processes(app: App, timeout: float = 5.0) -> None:
    node = app.node
    assert node is not None
    deadline = time.monotonic() + timeout
    while node.process_count() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert node.process_count() == 0


def test_a_handler_value_is_the_json_body_and_routing_follows_the_entries(
    served: tuple[App, httpx.Client],
) -> None:
    app, client = served
    response = client.get("/api/items/42")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"ok": True, "list": [1, 2, 3]}
    assert client.get("/api/files/a/b/c.txt").status_code == 200  # {rest...} takes the remaining segments
    empty = client.delete("/api/items/42")
    assert (empty.status_code, empty.content) == (204, b"")
    assert client.get("/api/nowhere").status_code == 404
    assert client.put("/api/items/42").status_code == 405
    wait_no_processes(app)  # every request's process is gone


def test_requests_on_a_keep_alive_connection_are_not_held_by_nagle(
    served: tuple[App, httpx.Client],
) -> None:
    """Each request of one keep-alive connection answers at once, not after a delayed ACK.

    With Nagle's algorithm on the server's sockets, a response sent in two
    writes (headers, body) waits for the client's delayed ACK: 40 ms on Linux
    for every request after the first, whatever the load.  A plain blocking
    client (stdlib ``http.client``) shows it as a median of at least 40 ms.
    """
    import http.client
    import statistics
    from urllib.parse import urlsplit

    app, _client = served
    address = urlsplit(app.http["app:gateway"].address)
    connection = http.client.HTTPConnection(address.hostname, address.port, timeout=10)
    took = []
    try:
        for _ in range(15):
            began = time.perf_counter()
            connection.request("GET", "/api/items/1")
            response = connection.getresponse()
            assert response.status == 200 and response.read()
            took.append(time.perf_counter() - began)
    finally:
        connection.close()
    assert statistics.median(took[1:]) < 0.035, [round(t * 1000, 1) for t in took]


def test_a_failing_handler_gives_500_with_a_json_body_and_one_log_line(
    served: tuple[App, httpx.Client], caplog: pytest.LogCaptureFixture
) -> None:
    _app, client = served
    with caplog.at_level(logging.ERROR, logger="actorflow.http"):
        response = client.post("/api/crash")
        returned = client.get("/api/err")
    assert response.status_code == 500
    body = response.json()["error"]
    assert body["kind"] == "INTERNAL" and body["message"] == "the handler failed"
    assert returned.status_code == 500 and returned.json()["error"]["kind"] == "NOT_FOUND"
    lines = [record.getMessage() for record in caplog.records if record.name == "actorflow.http"]
    assert len(lines) == 2
    assert f"POST /api/crash → 500 (request {body['request_id']}): app:boom: INTERNAL:" in lines[0]
    assert "kaboom" in lines[0]
    assert "app:fails: NOT_FOUND: no such thing" in lines[1]


def test_a_handler_past_its_deadline_gives_504_and_is_terminated(tmp_path: Path) -> None:
    root = tmp_path / "app"
    root.mkdir()
    (root / "app.yaml").write_text(
        """
namespace: app
entries:
  - {name: processes, kind: process.host}
  - {name: gateway, kind: http.service, addr: "127.0.0.1:0", timeouts: {write: 0.3s}}
  - {name: api, kind: http.router, meta: {server: gateway}}
  - {name: forever, kind: function.lua, source: file://forever.lua, modules: [time]}
  - {name: wait, kind: http.endpoint, meta: {router: api}, method: GET, path: /wait, func: forever}
"""
    )
    (root / "forever.lua").write_text(
        "local time = require('time')\nreturn function() time.sleep('1h') end\n"
    )
    with App(root) as app, httpx.Client(base_url=app.http["app:gateway"].address) as client:
        began = time.monotonic()
        response = client.get("/wait")
        assert response.status_code == 504
        assert response.json()["error"]["kind"] == "TIMEOUT"
        assert 0.3 <= time.monotonic() - began < 1.5
        wait_no_processes(app)


def test_a_body_over_the_limit_gives_413_declared_or_streamed(served: tuple[App, httpx.Client]) -> None:
    _app, client = served
    declared = client.post("/api/crash", content=b"x" * 1001)
    assert declared.status_code == 413
    assert declared.json()["error"]["kind"] == "LIMIT_EXCEEDED"

    def chunks() -> Iterator[bytes]:  # no Content-Length: chunked, counted as it arrives
        for _ in range(20):
            yield b"y" * 100

    streamed = client.post("/api/crash", content=chunks())
    assert streamed.status_code == 413


def test_concurrent_requests_run_concurrently(served: tuple[App, httpx.Client]) -> None:
    _app, client = served
    began = time.monotonic()
    with ThreadPoolExecutor(8) as pool:
        responses = list(pool.map(lambda index: client.get(f"/api/sleep/{index}"), range(8)))
    took = time.monotonic() - began
    assert [response.json() for response in responses] == [{"slept": True}] * 8
    assert took < 1.2, took  # one after the other: 8 × 0.3 s = 2.4 s


def test_cors_preflight_is_answered_by_the_router_middleware(served: tuple[App, httpx.Client]) -> None:
    _app, client = served
    preflight = client.options(
        "/api/items/1",
        headers={"Origin": "https://app.example.com", "Access-Control-Request-Method": "GET"},
    )
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == "https://app.example.com"
    plain = client.get("/api/items/1", headers={"Origin": "https://app.example.com"})
    assert plain.headers["access-control-allow-origin"] == "https://app.example.com"
    other = client.get("/api/items/1", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in other.headers


def test_check_reports_what_actorflow_does_not_support_with_file_and_line(tmp_path: Path) -> None:
    root = tmp_path / "app"
    root.mkdir()
    (root / "app.yaml").write_text(
        """namespace: app
entries:
  - {name: gateway, kind: http.service, addr: ":8080", tls: {mode: manual}}
  - name: api
    kind: http.router
    meta: {server: gateway}
    prefix: /api
    middleware: [cors, ratelimit, token_auth]
    options: {ratelimit.requests: "100", cors.allow.nothing: "x"}
    post_middleware: [endpoint_firewall]
  - {name: handler, kind: function.lua, source: "return function() end"}
  - {name: one, kind: http.endpoint, meta: {router: api}, method: GET, path: "/a/{x...}/b", func: handler}
  - {name: two, kind: http.endpoint, meta: {router: api}, method: FETCH, path: /b, func: handler}
  - {name: three, kind: http.endpoint, meta: {router: api}, method: GET, path: /c, func: handler}
  - {name: four, kind: http.endpoint, meta: {router: api}, method: GET, path: /c/, func: handler}
  - {name: five, kind: http.endpoint, meta: {router: api}, method: GET, path: /c, func: handler}
  - {name: files, kind: http.static, meta: {server: gateway}, path: /}
"""
    )
    from actorflow.app import load

    with pytest.raises(AppLoadError) as caught:
        load(root)
    text = str(caught.value)
    for expected in (
        "app.yaml:3: app:gateway: tls: TLS termination is not supported by actorflow",
        "app.yaml:4: app:api: middleware 'ratelimit' is not supported by actorflow (supported: compress, cors)",
        "app.yaml:4: app:api: middleware 'token_auth' is not supported by actorflow",
        "app.yaml:4: app:api: post_middleware: post-match middleware is not supported by actorflow",
        "app.yaml:4: app:api: option 'cors.allow.nothing' is not supported",
        "app.yaml:12: app:one: wildcard {x...} must be the last segment of the path",
        "app.yaml:13: app:two: method must be one of GET, POST",
        "app.yaml:16: app:five: route GET /api/c is already served by app:three (app.yaml:14)",
        "app.yaml:17: app:files: http.static is not supported by actorflow yet",
    ):
        assert expected in text, text
    assert "app:four" not in text  # /c/ is another path than /c
