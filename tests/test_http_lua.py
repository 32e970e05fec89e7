"""The Lua http module in real handlers, and the examples that use it, driven over HTTP."""

from __future__ import annotations

import json
import os
import shutil
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from actorflow.app import App
from tests.cli_support import ROOT, RunningApp, wait_for

APP = """
namespace: app
entries:
  - {name: processes, kind: process.host, host: {workers: 2}}
  - {name: gateway, kind: http.service, addr: "127.0.0.1:0"}
  - {name: api, kind: http.router, meta: {server: gateway}, prefix: /api}
  - {name: echo, kind: function.lua, source: file://echo.lua, modules: [http]}
  - {name: build, kind: function.lua, source: file://build.lua, modules: [http]}
  - {name: stream, kind: function.lua, source: file://stream.lua, modules: [http, time]}
  - {name: events, kind: function.lua, source: file://events.lua, modules: [http]}
  - {name: outside, kind: process.lua, source: file://outside.lua, modules: [http]}
  - {name: post_echo, kind: http.endpoint, meta: {router: api}, method: POST, path: "/echo/{id}", func: echo}
  - {name: get_build, kind: http.endpoint, meta: {router: api}, method: GET, path: /build, func: build}
  - {name: get_stream, kind: http.endpoint, meta: {router: api}, method: GET, path: /stream, func: stream}
  - {name: get_events, kind: http.endpoint, meta: {router: api}, method: GET, path: /events, func: events}
"""

FILES = {
    # Everything the request object tells, sent back as JSON with write_json.
    "echo.lua": """
local http = require("http")
return function()
    local req, err = http.request()
    local res = http.response()
    local data, json_err = req:body_json()
    local stream = req:stream()
    local first = stream:read(3)
    res:set_status(http.STATUS.CREATED)
    res:set_header("X-Echo", req:param("id"))
    res:write_json({
        method = req:method(), is_post = req:method() == http.METHOD.POST, path = req:path(),
        id = req:param("id"), params = req:params(),
        q = req:query("q"), missing = req:query("nope"), query = req:query_params(),
        header = req:header("x-custom"), header_any_case = req:header("X-CUSTOM"),
        content_type = req:content_type(), is_json = req:is_content_type(http.CONTENT.JSON),
        accepts_json = req:accepts("application/json"), accepts_html = req:accepts("text/html"),
        length = req:content_length(), has_body = req:has_body(), body = req:body(),
        data = data, first = first, remote = req:remote_addr(), host = req:host(),
    })
end
""",
    # Wippy's methods return an error (not raise) once the head is sent.
    "build.lua": """
local http = require("http")
return function()
    local res = http.response()
    res:set_content_type("text/plain")
    res:set_header("X-One", "1")
    res:write("hello ")
    res:write("world")
    res:flush()
    local late = res:set_status(500)
    res:write(" / after flush: " .. late:kind() .. " " .. late:message())
    return true
end
""",
    "stream.lua": """
local http = require("http")
local time = require("time")
return function()
    local res = http.response()
    res:set_transfer(http.TRANSFER.CHUNKED)
    for i = 1, 3 do
        res:write("part " .. i .. "\\n")
        res:flush()
        time.sleep(50 * time.MILLISECOND)
    end
end
""",
    "events.lua": """
local http = require("http")
return function()
    local res = http.response()
    res:set_transfer(http.TRANSFER.SSE)
    res:write_event({name = "connected", data = {client = 1}})
    res:write_event({name = "done", data = "bye"})
end
""",
    "outside.lua": """
local http = require("http")
return function()
    local req, err = http.request()
    return {req = req, kind = err:kind(), message = err:message()}
end
""",
}


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[App, httpx.Client]]:
    root = tmp_path_factory.mktemp("http-lua")
    (root / "app.yaml").write_text(APP)
    for name, text in FILES.items():
        (root / name).write_text(text)
    with App(root) as app, httpx.Client(base_url=app.http["app:gateway"].address, timeout=10) as client:
        yield app, client


def test_the_request_object_tells_everything_wippy_documents(served: tuple[App, httpx.Client]) -> None:
    _app, client = served
    response = client.post(
        "/api/echo/42?q=hello&tags=lua&tags=go",
        json={"name": "ada", "n": [1, 2]},
        headers={"X-Custom": "yes", "Accept": "application/json"},
    )
    assert response.status_code == 201
    assert response.headers["x-echo"] == "42"
    body = response.json()
    sent = json.dumps({"name": "ada", "n": [1, 2]}, separators=(",", ":"))
    assert body["body"] in (sent, json.dumps({"name": "ada", "n": [1, 2]}))
    assert body["data"] == {"name": "ada", "n": [1, 2]}
    del body["body"]
    remote, host = body.pop("remote"), body.pop("host")
    assert remote.startswith("127.0.0.1:") and host.startswith("127.0.0.1:")
    assert body == {
        "method": "POST",
        "is_post": True,
        "path": "/api/echo/42",
        "id": "42",
        "params": {"id": "42"},
        "q": "hello",
        "query": {"q": "hello", "tags": "lua,go"},
        "header": "yes",
        "header_any_case": "yes",
        "content_type": "application/json",
        "is_json": True,
        "accepts_json": True,
        "accepts_html": False,
        "length": len(response.request.content),
        "has_body": True,
        "data": {"name": "ada", "n": [1, 2]},
        "first": response.request.content[:3].decode(),
    }


def test_a_flushed_response_streams_and_the_head_cannot_change_after(
    served: tuple[App, httpx.Client],
) -> None:
    _app, client = served
    built = client.get("/api/build")
    assert built.status_code == 200
    assert built.headers["content-type"] == "text/plain" and built.headers["x-one"] == "1"
    assert built.text == "hello world / after flush: INVALID set_status: headers already sent"

    with client.stream("GET", "/api/stream") as streamed:
        assert streamed.headers.get("transfer-encoding") == "chunked"
        chunks = [chunk for chunk in streamed.iter_text() if chunk]
    assert "".join(chunks) == "part 1\npart 2\npart 3\n"
    assert len(chunks) >= 2  # sent as it was flushed, not at the end

    events = client.get("/api/events")
    assert events.headers["content-type"].startswith("text/event-stream")
    assert events.text == 'event: connected\ndata: {"client":1}\n\nevent: done\ndata: bye\n\n'


def test_http_outside_a_handler_is_an_error_value(served: tuple[App, httpx.Client]) -> None:
    app, _client = served
    result = app.exec("app:outside")
    assert result["kind"] == "INTERNAL" and "no HTTP request" in result["message"]
    assert "req" not in result


def copy_example(name: str, into: Path) -> Path:
    """The example with its HTTP address on a free port (tests run side by side)."""
    target = into / name
    shutil.copytree(ROOT / "examples" / name, target, ignore=shutil.ignore_patterns(".actorflow"))
    yaml = target / "app.yaml"
    text = yaml.read_text()
    for port in ("8080", "8081"):
        text = text.replace(f'addr: "127.0.0.1:{port}"', 'addr: "127.0.0.1:0"')
    yaml.write_text(text)
    return target


def test_seed_003_order_handler_runs_as_written(tmp_path: Path) -> None:
    app_dir = copy_example("orders", tmp_path)
    with (
        App(app_dir, state_dir=tmp_path / "state") as app,
        httpx.Client(base_url=app.http["app:gateway"].address, timeout=30) as client,
    ):
        order = {"id": "o-1", "customer_id": "ada", "total": 42, "shipping_address": "12 Analytical Way"}
        first = client.post("/orders", json=order, headers={"X-Request-ID": "req-1"})
        assert first.status_code == 202, first.text
        assert first.json() == {
            "workflow_id": "{app:temporal_client@app:worker|order-o-1}",
            "status": "started",
        }
        again = client.post("/orders", json=order)  # its workflow sleeps an hour before shipping
        assert again.status_code == 409, again.text
        assert "order-o-1" in again.json()["error"]
        other = client.post("/orders", json={**order, "id": "o-2"})
        assert other.status_code == 202


def test_approval_survives_kill_9_of_the_app_and_completes_after_a_restart(tmp_path: Path) -> None:
    app_dir = copy_example("approvals", tmp_path)
    state = tmp_path / "state"
    with RunningApp(app_dir, state) as first:
        address = first.http_address("app:gateway")
        created = httpx.post(
            f"{address}/approvals/",
            json={"id": "a-1", "title": "Buy a boat", "approver": "grace", "remind_every": "1s"},
            timeout=30,
        )
        assert created.status_code == 202, created.text
        assert created.json()["workflow_id"] == "{app:temporal_client@app:worker|approval-a-1}"
        wait_for(lambda: "approval a-1: reminder" in "".join(first.stderr), timeout=30)
        assert "approval-a-1" in first.cli("workflows").stdout
        os.kill(first.process.pid, signal.SIGKILL)  # no stop at all: the approval is mid-wait
        first.process.wait(10)

    with RunningApp(app_dir, state) as second:
        address = second.http_address("app:gateway")
        # The durable timer goes on firing in the new run.
        wait_for(lambda: "approval a-1: reminder" in "".join(second.stderr), timeout=30)
        decided = httpx.post(
            f"{address}/approvals/a-1/decision", json={"decision": "approve", "by": "grace"}, timeout=30
        )
        assert decided.status_code == 202, decided.text
        rows = wait_for(
            lambda: [row for row in json.loads(second.cli("workflows", "--closed", "--json").stdout)
                     if row["workflow_id"] == "approval-a-1"],
            timeout=30,
        )  # fmt: skip
        assert rows[0]["status"] == "COMPLETED"
        assert "approval a-1: decided" in "".join(second.stderr)
        unknown = httpx.post(f"{address}/approvals/nope/decision", json={"decision": "approve"}, timeout=30)
        assert unknown.status_code == 404
        began = time.monotonic()
        status, _took = second.interrupt()
        assert status == 0 and time.monotonic() - began < 15
