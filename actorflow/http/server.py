"""Serving an ``http.service``: Starlette routes on uvicorn, one handler process per request.

uvicorn runs on a thread of its own with its own event loop.  For each
request the endpoint reads the body (bounded by ``max_body``, 413 past it;
``timeouts.read``, 408 past it), spawns the endpoint's ``function.lua`` on
the service's process host with the request attached (see
:mod:`actorflow.http.exchange`), and waits, without blocking the loop, for
the handler to end or to flush:

* the handler returns: the response it built is sent (or, if it built none,
  its return value as JSON, 200; nothing at all, 204);
* the handler fails (a Lua error, or ``nil, err``): 500 with a JSON error
  body naming a request ID, and one ERROR log line with the same ID and the
  error;
* the handler is still running at the deadline (``timeouts.write``): it is
  terminated and the client gets 504;
* the handler flushes: the head goes out and the body streams until it ends.

Many requests are many processes of the service's own process host (its ID
is the service's), each with its own Lua environment.  Their Lua runs on
this server's loop thread (:mod:`actorflow.http._lane`): they take turns as
the Lua processes of one lane do, each until it waits.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import math
import re
import socket
import threading
import time
from typing import TYPE_CHECKING, Any

import uvicorn
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.routing import Route as StarletteRoute

from actorflow._lifecycle import lifecycle_of
from actorflow.http._kinds import Route, ServiceConfig, routes_of, service_config
from actorflow.http._lane import HandlerHost
from actorflow.http.exchange import (
    Exchange,
    Request,
    bind_exchange,
    exchange_of,
    json_body,
    unbind_exchange,
)
from actors import errors
from actors.entries import Entry
from actors.seam import SpawnRequest

if TYPE_CHECKING:
    from actorflow.app import App

__all__ = ["HttpServiceUnit", "build_asgi", "http_units"]

logger = logging.getLogger("actorflow.http")

_request_ids = itertools.count(1)


class _TooLarge(Exception):
    pass


class _Disconnected(Exception):
    pass


async def _send_json(send: Any, status: int, body: Any, headers: list[tuple[str, str]] | None = None) -> None:
    await _send_bytes(send, status, json_body(body), [("content-type", "application/json"), *(headers or [])])


async def _send_bytes(send: Any, status: int, body: bytes, headers: list[tuple[str, str]]) -> None:
    raw = [(name.lower().encode("latin-1"), value.encode("latin-1", "replace")) for name, value in headers]
    raw.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


def _json_head(length: int) -> list[tuple[bytes, bytes]]:
    return [(b"content-type", b"application/json"), (b"content-length", b"%d" % length)]


class Endpoint:
    """The ASGI app of one route: a request in, a handler process, a response out."""

    def __init__(self, app: App, config: ServiceConfig, route: Route, host_id: str) -> None:
        self.app = app
        self.config = config
        self.route = route
        self.host_id = host_id

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        route, config = self.route, self.config
        method = scope["method"]
        if route.methods is not None and method not in route.methods and method != "HEAD":
            # The OPTIONS a router with CORS accepts for its preflights: no handler runs.
            await _send_bytes(send, 204, b"", [("allow", ", ".join(route.methods))])
            return
        number = next(_request_ids)
        declared: bytes | None = None
        chunked = False
        for name, value in scope["headers"]:
            if name == b"content-length":
                declared = value
            elif name == b"transfer-encoding":
                chunked = True
        if declared is not None and declared.isdigit() and int(declared) > config.max_body:
            await self._too_large(send)
            return
        if not chunked and (declared is None or declared == b"0"):
            body = b""  # HTTP/1.1: a request with neither header has no body; nothing to wait for
        else:
            try:
                async with asyncio.timeout(config.read_timeout):  # no task per request, unlike wait_for
                    body = await _read_body(receive, config.max_body)
            except _TooLarge:
                await self._too_large(send)
                return
            except TimeoutError:
                await _send_json(
                    send, 408, {"error": {"kind": errors.TIMEOUT, "message": "request body not read in time"}}
                )
                return
            except _Disconnected:
                return
        await self._serve(Request.from_scope(scope, body), number, receive, send)

    async def _too_large(self, send: Any) -> None:
        await _send_json(
            send,
            413,
            {
                "error": {
                    "kind": errors.LIMIT_EXCEEDED,
                    "message": f"request body over {self.config.max_body} bytes",
                }
            },
        )

    async def _serve(self, request: Request, number: int, receive: Any, send: Any) -> None:
        loop = asyncio.get_running_loop()
        exchange = Exchange(request, loop)
        node = self.app.require_node()

        def ended(value: Any, error: errors.Error | None) -> None:
            exchange.finish(value, error)
            unbind_exchange(exchange)

        spawn = SpawnRequest(self.route.func, (), on_exit=ended)
        try:
            pid = bind_exchange(exchange, lambda: node.spawn_request(spawn, self.host_id))
        except errors.Error as err:
            self._log_failure(request, _request_id(number), err)
            await _send_json(
                send, 503, _error_body(errors.UNAVAILABLE, "the handler could not start", _request_id(number))
            )
            return
        # One loop timer per request (cheaper than asyncio.timeout): it posts "timeout" to the
        # exchange if nothing came before the deadline.
        exchange.deadline = deadline = time.monotonic() + self.config.handler_timeout
        timer = loop.call_at(deadline, exchange.expire)
        done = False
        try:
            event = await exchange.next_event()
            timer.cancel()
            if event[0] == "timeout" or (
                event[0] == "end"
                and event[2] is not None
                and event[2].kind() == errors.TIMEOUT
                and _past(exchange)
            ):
                # Past the deadline: the loop's timer fired, or the watchdog ended a handler
                # that held the loop's thread (the timer could not fire meanwhile).  A handler
                # that failed with an error of its own is a 500 with that error, as always.
                done = event[0] == "end"
                logger.warning(
                    "%s %s → 504 (request %s): %s still running after %g s; terminated",
                    request.method, request.path, _request_id(number), self.route.func,
                    self.config.handler_timeout,
                )  # fmt: skip
                await _send_json(
                    send,
                    504,
                    _error_body(errors.TIMEOUT, "the handler did not answer in time", _request_id(number)),
                )
                return
            if event[0] == "end":
                done = True
                await self._respond(exchange, event[1], event[2], number, send)
            else:
                done = await self._stream(exchange, event, number, receive, send)
        finally:
            timer.cancel()
            if not done:
                try:
                    node.terminate(pid)
                except errors.Error:
                    pass  # it ended meanwhile

    async def _respond(
        self, exchange: Exchange, value: Any, error: errors.Error | None, number: int, send: Any
    ) -> None:
        request, response = exchange.request, exchange.response
        if error is not None:
            request_id = _request_id(number)
            self._log_failure(request, request_id, error)
            await _send_json(
                send, 500, _error_body(error.kind() or errors.INTERNAL, "the handler failed", request_id)
            )
            return
        if response.touched:
            await _send_bytes(send, response.status, b"".join(response.body), response.header_list())
            return
        if value is None:
            await _send_bytes(send, 204, b"", [])
            return
        try:
            body = json_body(value)
        except errors.Error as err:
            request_id = _request_id(number)
            self._log_failure(request, request_id, err)
            await _send_json(
                send, 500, _error_body(errors.INTERNAL, "the handler's result is not JSON", request_id)
            )
            return
        await send({"type": "http.response.start", "status": 200, "headers": _json_head(len(body))})
        await send({"type": "http.response.body", "body": body})

    async def _stream(
        self, exchange: Exchange, head: tuple[Any, ...], number: int, receive: Any, send: Any
    ) -> bool:
        """Send a flushed response as it comes; True once the handler ended."""
        _, status, headers = head
        raw = [
            (name.lower().encode("latin-1"), value.encode("latin-1", "replace")) for name, value in headers
        ]
        await send({"type": "http.response.start", "status": status, "headers": raw})
        disconnected = asyncio.ensure_future(_wait_disconnect(receive))
        try:
            while True:
                getter = asyncio.ensure_future(exchange.next_event())
                await asyncio.wait({getter, disconnected}, return_when=asyncio.FIRST_COMPLETED)
                if disconnected.done():  # first: a handler on this thread always has data ready
                    getter.cancel()
                    return False  # the client left: the handler is terminated
                event = getter.result()
                if event[0] == "data":
                    await send({"type": "http.response.body", "body": event[1], "more_body": True})
                    exchange.sent(len(event[1]))
                    continue
                if event[0] == "end" and event[2] is not None:
                    self._log_failure(exchange.request, _request_id(number), event[2])
                await send({"type": "http.response.body", "body": b"", "more_body": False})
                return True
        finally:
            disconnected.cancel()

    def _log_failure(self, request: Request, request_id: str, error: errors.Error) -> None:
        logger.error(
            "%s %s → 500 (request %s): %s: %s: %s",
            request.method, request.path, request_id, self.route.func, error.kind(), error.message(),
        )  # fmt: skip


def _request_id(number: int) -> str:
    """A request's ID as the error body and the log line show it."""
    return f"{number:x}"


def _past(exchange: Exchange) -> bool:
    return exchange.deadline is not None and time.monotonic() >= exchange.deadline


def _overdue(process: Any) -> errors.Error | None:
    """The handler lane's watchdog check: the error a handler past its deadline ends with."""
    exchange = exchange_of(process.pid)
    if exchange is None or exchange.streaming or not _past(exchange):
        return None  # a handler that has begun its response streams until it ends
    return errors.Error(errors.TIMEOUT, "the handler did not answer in time", retryable=False)


def _error_body(kind: str, message: str, request_id: str) -> dict[str, Any]:
    return {"error": {"kind": kind, "message": message, "request_id": request_id}}


async def _read_body(receive: Any, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise _Disconnected
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise _TooLarge
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


async def _wait_disconnect(receive: Any) -> None:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return


def _middleware(route: Route) -> list[Middleware]:
    options = route.options
    result = []
    for name in route.middleware:
        if name == "cors":
            origins = [
                item.strip()
                for item in str(options.get("cors.allow.origins", "*")).split(",")
                if item.strip()
            ]
            plain = [origin for origin in origins if "*." not in origin]
            patterns = [re.escape(origin).replace(r"\*", "[^.]+") for origin in origins if "*." in origin]
            result.append(
                Middleware(
                    CORSMiddleware,
                    allow_origins=plain,
                    allow_origin_regex="|".join(patterns) or None,
                    allow_methods=_split(
                        options.get("cors.allow.methods", "GET,POST,PUT,DELETE,OPTIONS,PATCH")
                    ),
                    allow_headers=_split(
                        options.get(
                            "cors.allow.headers", "Origin,Content-Type,Accept,Authorization,X-Requested-With"
                        )
                    ),
                    expose_headers=_split(options.get("cors.expose.headers", "")),
                    allow_credentials=str(options.get("cors.allow.credentials", "false")).lower() == "true",
                    max_age=int(options.get("cors.max.age", 86400)),
                )
            )
        elif name == "compress":
            level = {"fastest": 1, "default": 6, "best": 9}.get(
                str(options.get("compress.level", "default")), 6
            )
            result.append(
                Middleware(
                    GZipMiddleware,
                    minimum_size=int(options.get("compress.min.length", 1024)),
                    compresslevel=level,
                )
            )
    return result


def _split(value: Any) -> list[str]:
    return [item.strip() for item in str(value).split(",") if item.strip()]


def build_asgi(
    app: App, config: ServiceConfig, routes: list[Route], host_id: str, extra: list[Any] | None = None
) -> Starlette:
    """The Starlette app of one ``http.service``, its handlers run on ``host_id``.

    ``extra``: more Starlette routes served next to the app's (benchmarks compare against them).
    """
    served = []
    for route in routes:
        methods = None if route.methods is None else list(route.methods)
        if methods is not None and "cors" in route.middleware and "OPTIONS" not in methods:
            methods.append("OPTIONS")
        served.append(
            StarletteRoute(
                route.path,
                endpoint=Endpoint(app, config, route, host_id),
                methods=methods,
                name=route.endpoint_id,
                middleware=_middleware(route) or None,
            )
        )
    return Starlette(routes=[*served, *(extra or [])])


class HttpServiceUnit:
    """One ``http.service``: its routes served by uvicorn on a thread of its own."""

    def __init__(self, app: App, entry: Entry) -> None:
        self.app = app
        self.entry = entry
        self.id = entry.id
        self.provides = frozenset({entry.id})
        self.lifecycle = lifecycle_of(entry)
        routes = routes_of(app.registry, entry.id)
        # Handlers run on the default host; the functions themselves start nothing.
        self.requires = frozenset({*self.lifecycle.requires, app.default_host_id})
        self.routes = routes
        self.config = service_config(entry)
        self.extra_routes: list[Any] = []
        """More Starlette routes served next to the app's (benchmarks compare against them)."""
        self.address: str | None = None
        self.handlers: HandlerHost | None = None
        """The process host the handlers run on (its ID is the service's)."""
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        config = self.config
        family = socket.AF_INET6 if ":" in config.host else socket.AF_INET
        # IPPROTO_TCP, not 0: asyncio turns Nagle off (TCP_NODELAY) only on sockets that say
        # they are TCP.  With Nagle on, a response written in two parts (headers, then body)
        # waited for the client's delayed ACK: every request after the first on a keep-alive
        # connection took 40 ms more.  Set on the listener too; accepted sockets inherit it.
        sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            sock.bind((config.host, config.port))
            sock.listen(2048)
        except OSError as exc:
            sock.close()
            raise errors.Error(
                errors.UNAVAILABLE, f"cannot listen on {self.entry.get('addr')}: {exc.strerror or exc}"
            ) from None
        host, port = sock.getsockname()[:2]
        shown = "127.0.0.1" if host == "0.0.0.0" else host
        self.address = f"http://{shown}:{port}" if family == socket.AF_INET else f"http://[{host}]:{port}"
        # The handlers' own host: what a handler waits on I/O for (a workflow start is a call to
        # Temporal) holds one of its host.worker_count I/O threads, never one of the app's hosts
        # (with a host's default 8, 16 requests starting workflows waited for each other).
        try:
            self.handlers = HandlerHost(
                self.app.require_node(),
                self.id,
                workers=config.handler_workers,
                io_threads=config.handler_workers,
                overdue=_overdue,
                lua_threads=config.lua_threads,
            )
            self.app.require_node().add_host(self.handlers)
        except BaseException:
            sock.close()
            raise
        asgi = build_asgi(self.app, config, self.routes, self.id, self.extra_routes)
        server = uvicorn.Server(
            uvicorn.Config(
                asgi,
                log_config=None,
                access_log=False,
                lifespan="off",
                proxy_headers=False,
                server_header=False,
                timeout_keep_alive=max(1, math.ceil(config.idle_timeout)),
                limit_concurrency=config.max_concurrent,
                timeout_graceful_shutdown=max(1, math.ceil(self.lifecycle.stop_timeout)),
            )
        )
        self._server = server
        failure: list[BaseException] = []

        lane = self.handlers.loop_lane

        async def serve() -> None:
            lane.attach(asyncio.get_running_loop())  # the handlers run on this loop from now on
            await server.serve(sockets=[sock])

        def run() -> None:
            try:
                asyncio.run(serve())
            except BaseException as exc:  # SystemExit from uvicorn's start-up included
                failure.append(exc)
                logger.error("http.service %s stopped: %r", self.id, exc)
            finally:
                lane.detach()  # handlers still alive end on a thread of their own
                sock.close()

        self._thread = threading.Thread(target=run, name=f"http-{self.id}", daemon=True)
        self._thread.start()
        while not server.started:
            if not self._thread.is_alive():
                raise errors.Error(
                    errors.UNAVAILABLE, f"{self.id} did not start: {failure[0]!r}" if failure else ""
                )
            time.sleep(0.005)
        self.app.http[self.id] = self
        self.app.progress(f"http {self.id} listening on {self.address} ({len(self.routes)} endpoints)")

    def stop(self, timeout: float) -> None:
        server, thread = self._server, self._thread
        self.app.http.pop(self.id, None)
        began = time.monotonic()
        if server is not None and thread is not None:
            server.should_exit = True  # stop accepting; requests in flight get until the graceful timeout
            thread.join(timeout + 0.5)
            if thread.is_alive():
                server.force_exit = True
                thread.join(2.0)
        if self.handlers is not None:  # handlers still running (a streaming one) are cancelled
            self.handlers.stop(max(0.5, timeout - (time.monotonic() - began)))

    def describe(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "address": self.address,
            "endpoints": len(self.routes),
            "workers": self.handlers.workers if self.handlers is not None else None,
        }


def http_units(app: App) -> list[Any]:
    """One unit per ``http.service`` whose ``lifecycle.auto_start`` is not false."""
    return [
        HttpServiceUnit(app, entry)
        for entry in app.registry.of_kind("http.service")
        if lifecycle_of(entry).auto_start is not False
    ]
