"""One HTTP request and the response its handler builds.

A request is served by spawning the endpoint's ``function.lua`` entry on a
process host.  Its process runs on the server's event loop thread (see
:mod:`actorflow.http._lane`), but it may be woken from any thread and, once
the server has stopped, it runs on another.  Server and handler meet here:

* :class:`Request` is what arrived, read in full before the handler starts
  (so its size is checked against the service's limit first); it never
  changes, so any thread may read it;
* :class:`Response` is what the handler builds (status, headers, body);
  only the handler's process touches it;
* :class:`Exchange` carries the two and the one channel between the
  threads: the handler *posts* immutable events (``head``, ``data``,
  ``end``) onto the server loop, never sharing a mutable object with it.
  Until the handler flushes, nothing is sent and the whole response goes out
  when it returns; after a flush the response streams (chunked, or
  server-sent events).

The handler process finds its exchange with :func:`exchange_of` (its PID);
a process that is not an HTTP handler has none.
"""

from __future__ import annotations

import asyncio
import collections
import json
import math
import threading
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl

from actors import errors
from actors.lua.stdlib import jsonable
from actors.pid import PID

__all__ = [
    "FLUSH_WAIT",
    "MAX_STREAM_BACKLOG",
    "Exchange",
    "Request",
    "Response",
    "bind_exchange",
    "exchange_of",
    "json_body",
    "unbind_exchange",
]

MAX_STREAM_BACKLOG = 8 * 1024 * 1024
"""Bytes a streaming handler may have sent that the client has not read yet; past it,
``flush`` and ``write_event`` fail with ``LIMIT_EXCEEDED`` (a client that stopped reading)."""

FLUSH_WAIT = 1024 * 1024
"""Bytes a handler may have flushed that the server has not taken yet; past it the flush waits
until the server has taken them (the handler may hold the server's thread: see ``_lane``)."""

MAX_RESPONSE_BYTES = 64 * 1024 * 1024
"""The largest response body a handler may buffer before it flushes."""

STATUS_TEXT = {
    200: "OK", 201: "Created", 202: "Accepted", 204: "No Content", 400: "Bad Request", 404: "Not Found",
    408: "Request Timeout", 409: "Conflict", 413: "Content Too Large", 500: "Internal Server Error",
    504: "Gateway Timeout",
}  # fmt: skip


class Request:
    """What the client sent (read in full, never changed).

    Made from the ASGI scope with :meth:`from_scope`, which decodes nothing
    up front: the headers, query string, route parameters and remote address
    are decoded the first time they are read (most handlers read few of them).
    """

    __slots__ = (
        "_client",
        "_headers",
        "_params",
        "_query",
        "_raw_headers",
        "body",
        "method",
        "path",
        "scheme",
    )

    def __init__(
        self,
        method: str,
        path: str,
        params: dict[str, str] | None = None,
        query_string: str = "",
        headers: tuple[tuple[str, str], ...] = (),
        body: bytes = b"",
        remote_addr: str = "",
        scheme: str = "http",
    ) -> None:
        self.method = method
        self.path = path
        self._params: Any = dict(params or {})
        self._query: Any = query_string
        self._headers: tuple[tuple[str, str], ...] | None = tuple(headers)
        self._raw_headers: Any = None
        self.body = body
        self._client: Any = remote_addr
        self.scheme = scheme

    @classmethod
    def from_scope(cls, scope: dict[str, Any], body: bytes) -> Request:
        """The request an ASGI ``scope`` describes, with its ``body`` (read in full)."""
        request = cls.__new__(cls)
        request.method = scope["method"]
        request.path = scope["path"]
        request._params = scope.get("path_params")
        request._query = scope.get("query_string", b"")
        request._headers = None
        request._raw_headers = scope["headers"]
        request.body = body
        request._client = scope.get("client")
        request.scheme = scope.get("scheme", "http")
        return request

    @property
    def params(self) -> dict[str, str]:
        """Route parameters (``{id}`` segments)."""
        params = self._params
        if params is None:
            params = self._params = {}
        elif any(type(value) is not str for value in params.values()):
            params = self._params = {key: str(value) for key, value in params.items()}
        return params

    @property
    def query_string(self) -> str:
        query = self._query
        if type(query) is bytes:
            query = self._query = query.decode("latin-1")
        return query  # type: ignore[no-any-return]

    @property
    def headers(self) -> tuple[tuple[str, str], ...]:
        """Header pairs as received; names in lower case."""
        headers = self._headers
        if headers is None:
            headers = self._headers = tuple(
                (name.decode("latin-1").lower(), value.decode("latin-1")) for name, value in self._raw_headers
            )
        return headers

    @property
    def remote_addr(self) -> str:
        client = self._client
        if type(client) is not str:
            client = self._client = f"{client[0]}:{client[1]}" if client else ""
        return client  # type: ignore[no-any-return]

    def header(self, name: str) -> str | None:
        """The first value of header ``name`` (any case), or None."""
        wanted = name.lower()
        for key, value in self.headers:
            if key == wanted:
                return value
        return None

    def header_map(self) -> dict[str, str]:
        """Every header once (repeated ones joined with ``, ``), names in lower case."""
        result: dict[str, str] = {}
        for key, value in self.headers:
            result[key] = f"{result[key]}, {value}" if key in result else value
        return result

    def query(self, name: str) -> str | None:
        for key, value in parse_qsl(self.query_string, keep_blank_values=True):
            if key == name:
                return value
        return None

    def query_params(self) -> dict[str, str]:
        """Every query parameter; repeated ones joined with commas (as the runtime does)."""
        result: dict[str, str] = {}
        for key, value in parse_qsl(self.query_string, keep_blank_values=True):
            result[key] = f"{result[key]},{value}" if key in result else value
        return result

    @property
    def content_type(self) -> str | None:
        return self.header("content-type")

    @property
    def content_length(self) -> int:
        return len(self.body)

    @property
    def host(self) -> str:
        return self.header("host") or ""

    def is_content_type(self, wanted: str) -> bool:
        current = (self.content_type or "").split(";", 1)[0].strip().lower()
        return current == wanted.split(";", 1)[0].strip().lower()

    def accepts(self, wanted: str) -> bool:
        """True when the Accept header allows ``wanted`` (no header accepts everything)."""
        accept = self.header("accept")
        if not accept:
            return True
        kind = wanted.split(";", 1)[0].strip().lower()
        major = kind.split("/", 1)[0]
        for part in accept.split(","):
            item = part.split(";", 1)[0].strip().lower()
            if item in ("*/*", kind, f"{major}/*"):
                return True
        return False

    def body_json(self) -> Any:
        """The body parsed as JSON; ``INVALID`` when it is not JSON."""
        from actors.lua.stdlib import json_decode

        try:
            text = self.body.decode("utf-8")
        except UnicodeDecodeError:
            raise errors.Error(errors.INVALID, "request body is not UTF-8 text") from None
        return json_decode(text)


class Response:
    """The response a handler builds (touched only by the handler's process)."""

    __slots__ = ("body", "body_size", "content_type", "headers", "status", "touched", "transfer")

    def __init__(self) -> None:
        self.status = 200
        self.headers: list[tuple[str, str]] = []
        self.content_type: str | None = None
        self.body: list[bytes] = []
        self.body_size = 0
        self.transfer: str | None = None
        self.touched = False
        """True once the handler set or wrote anything: its return value is then not the body."""

    def header_list(self) -> list[tuple[str, str]]:
        headers = list(self.headers)
        content_type = self.content_type
        if content_type is None and self.transfer == "sse":
            content_type = "text/event-stream"
        if content_type is not None and not any(name.lower() == "content-type" for name, _ in headers):
            headers.append(("content-type", content_type))
        if self.transfer == "sse":
            headers.append(("cache-control", "no-cache"))
        return headers


class Exchange:
    """One request, its response, and the events posted from the handler to the server loop."""

    def __init__(self, request: Request, loop: asyncio.AbstractEventLoop | None = None) -> None:
        self.request = request
        self.response = Response()
        self.streaming = False
        """The head has been posted: the status and headers can no longer change."""
        self._loop = loop
        self._loop_thread = threading.get_ident() if loop is not None else None
        """The loop's thread (an exchange is made on it): events posted there need no hand-over."""
        self._events: collections.deque[tuple[Any, ...]] = collections.deque()
        self._waiter: asyncio.Future[None] | None = None
        self.deadline: float | None = None
        """When the handler must have answered (``time.monotonic()``); set by the server."""
        self._backlog = 0
        self._queued = 0
        """Of the backlog, the bytes the server has not taken yet (still among the events)."""
        self._on_taken: Callable[[], None] | None = None
        self._backlog_lock = threading.Lock()
        self.pid: PID | None = None
        """The handler process serving this exchange (set by :func:`bind_exchange`)."""

    # -- the handler's side (its process thread) ------------------------------------------------

    def _require_open_head(self, what: str) -> None:
        if self.streaming:
            raise errors.Error(errors.INVALID, f"{what}: headers already sent")

    def set_status(self, status: Any) -> None:
        self._require_open_head("set_status")
        if type(status) is not int or not 100 <= status <= 599:
            raise errors.Error(
                errors.INVALID, f"set_status: expected a status code from 100 to 599, got {status!r}"
            )
        self.response.status = status
        self.response.touched = True

    def set_header(self, name: Any, value: Any) -> None:
        self._require_open_head("set_header")
        name_text, value_text = _header_text(name, "name"), _header_text(value, "value")
        self.response.headers.append((name_text, value_text))
        self.response.touched = True

    def set_content_type(self, content_type: Any) -> None:
        self._require_open_head("set_content_type")
        self.response.content_type = _header_text(content_type, "content type")
        self.response.touched = True

    def set_transfer(self, mode: Any) -> None:
        self._require_open_head("set_transfer")
        if mode not in ("chunked", "sse"):
            raise errors.Error(errors.INVALID, f"set_transfer: expected 'chunked' or 'sse', got {mode!r}")
        self.response.transfer = mode
        self.response.touched = True

    def write(self, data: Any) -> None:
        if isinstance(data, str):
            chunk = data.encode("utf-8", "surrogatepass")
        elif isinstance(data, bytes):
            chunk = data
        elif isinstance(data, (int, float)) and not isinstance(data, bool):
            chunk = str(data).encode()
        else:
            raise errors.Error(errors.INVALID, f"write: expected a string, got {type(data).__name__}")
        response = self.response
        response.touched = True
        if response.body_size + len(chunk) > MAX_RESPONSE_BYTES:
            raise errors.Error(
                errors.LIMIT_EXCEEDED, f"response body over {MAX_RESPONSE_BYTES} bytes: flush as you write"
            )
        response.body.append(chunk)
        response.body_size += len(chunk)

    def write_json(self, value: Any) -> None:
        if self.response.content_type is None and not self.streaming:
            self.response.content_type = "application/json"
        self.write(json_body(value))

    def write_event(self, event: Any) -> None:
        """One server-sent event (``{name=…, data=…, id=…}``), sent at once."""
        if not isinstance(event, dict):
            raise errors.Error(errors.INVALID, "write_event: expected a table with name and data")
        if not self.streaming and self.response.transfer is None:
            self.set_transfer("sse")
        lines = []
        if event.get("id") is not None:
            lines.append(f"id: {event['id']}")
        if event.get("name") is not None:
            lines.append(f"event: {event['name']}")
        data = event.get("data")
        text = data if isinstance(data, str) else json_body(data).decode()
        lines.extend(f"data: {line}" for line in text.split("\n"))
        self.write("\n".join(lines) + "\n\n")
        self.flush()

    def flush(self) -> None:
        """Send the head (first time) and what was written so far."""
        response = self.response
        response.touched = True
        if not self.streaming:
            self.streaming = True
            self._post(("head", response.status, response.header_list()))
        if response.body:
            chunk = b"".join(response.body)
            response.body.clear()
            response.body_size = 0
            with self._backlog_lock:
                if self._backlog + len(chunk) > MAX_STREAM_BACKLOG:
                    raise errors.Error(
                        errors.LIMIT_EXCEEDED, "the client is not reading the response (stream backlog full)"
                    )
                self._backlog += len(chunk)
                self._queued += len(chunk)
            self._post(("data", chunk))

    def must_wait(self) -> bool:
        """True when the server has more than :data:`FLUSH_WAIT` flushed bytes still to take."""
        return self._queued > FLUSH_WAIT

    def when_taken(self, resume: Callable[[], None]) -> bool:
        """Call ``resume()`` once the server has taken all but :data:`FLUSH_WAIT` bytes of what was
        flushed; False (``resume`` dropped) when it has already."""
        with self._backlog_lock:
            if self._queued <= FLUSH_WAIT:
                return False
            self._on_taken = resume
            return True

    def finish(self, value: Any, error: errors.Error | None) -> None:
        """The handler ended (any thread: its last step, or its termination)."""
        response = self.response
        if self.streaming and response.body:
            chunk = b"".join(response.body)
            response.body.clear()
            self._post(("data", chunk))
        self._post(("end", value, error))

    def _post(self, event: tuple[Any, ...]) -> None:
        loop = self._loop
        if loop is None:
            return
        if threading.get_ident() == self._loop_thread:  # a handler on the server's own thread
            self._deliver(event)
            return
        try:
            loop.call_soon_threadsafe(self._deliver, event)
        except RuntimeError:
            pass  # the server loop is closed: nobody is waiting any more

    # -- the server's side (its loop) ---------------------------------------------------------------

    def _deliver(self, event: tuple[Any, ...]) -> None:
        self._events.append(event)
        waiter = self._waiter
        if waiter is not None:
            self._waiter = None
            if not waiter.done():
                waiter.set_result(None)

    def expire(self) -> None:
        """The deadline passed (the server's timer, on its loop): ``("timeout",)`` is the next
        event unless the handler's first one is already there."""
        if not self._events:
            self._deliver(("timeout",))

    async def next_event(self) -> tuple[Any, ...]:
        """The next event the handler posted: ``("head", status, headers)``, ``("data", bytes)``
        or ``("end", value, error)``; or ``("timeout",)`` from :meth:`expire`."""
        events = self._events
        while not events:
            assert self._loop is not None
            waiter = self._waiter = self._loop.create_future()
            await waiter
        event = events.popleft()
        if event[0] == "data":
            with self._backlog_lock:
                self._queued -= len(event[1])
                resume = self._on_taken if self._queued <= FLUSH_WAIT else None
                if resume is not None:
                    self._on_taken = None
            if resume is not None:
                resume()  # a flush waiting for the server to take its data goes on
        return event

    def sent(self, count: int) -> None:
        """The server wrote ``count`` streamed bytes to the client."""
        with self._backlog_lock:
            self._backlog -= count


def json_body(value: Any) -> bytes:
    """JSON bytes for a value from Lua or Python (PIDs as their text); ``INVALID`` when impossible."""
    try:
        return _ENCODER.encode(jsonable(value)).encode("utf-8")
    except (TypeError, ValueError, RecursionError) as exc:
        raise errors.Error(errors.INVALID, f"write_json: {exc}") from None


def _json_default(obj: Any) -> Any:
    if isinstance(obj, PID):
        return str(obj)
    raise TypeError(f"{type(obj).__name__} is not JSON")


_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False, default=_json_default)
"""Made once: ``json.dumps`` with options builds an encoder per call."""


def _header_text(value: Any, what: str) -> str:
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        value = str(value)
    if not isinstance(value, str) or "\r" in value or "\n" in value or "\0" in value:
        raise errors.Error(errors.INVALID, f"header {what} must be a string without line breaks")
    return value


# -- which process serves which exchange ------------------------------------------------------------

_exchanges: dict[str, Exchange] = {}  # by the PID's text: what a Lua module's caller knows
_binding = threading.Lock()


def bind_exchange(exchange: Exchange, spawn: Callable[[], PID]) -> PID:
    """Run ``spawn`` and attach ``exchange`` to the PID it returns, before the handler can ask for it."""
    with _binding:
        pid = spawn()
        exchange.pid = pid
        _exchanges[str(pid)] = exchange
    return pid


def unbind_exchange(exchange: Exchange) -> None:
    """Forget ``exchange`` (its handler ended); waits for a bind still in progress."""
    with _binding:
        key = str(exchange.pid)
        if exchange.pid is not None and _exchanges.get(key) is exchange:
            del _exchanges[key]


def exchange_of(pid: PID | str) -> Exchange | None:
    """The exchange a handler process serves, or None for a process that is not a handler."""
    key = str(pid)
    exchange = _exchanges.get(key)
    if exchange is None:
        with _binding:  # a handler asking in its first step waits for its spawner to bind it
            exchange = _exchanges.get(key)
    return exchange
