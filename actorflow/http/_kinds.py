"""The ``http.service``, ``http.router`` and ``http.endpoint`` kinds: checks and the route table.

Fields follow Wippy's documentation; what actorflow does not support (TLS,
network overlays, middleware other than ``cors`` and ``compress``,
post-match middleware, ``http.static``) is a load problem with the entry's
file and line, never silently ignored: an app that asks for token
authentication must not run without it.

actorflow adds two limits to ``http.service``: ``max_body`` (bytes, default
10 MiB; a larger request gets 413) and ``max_concurrent`` (requests served
at once, default 1024; more get 503).  ``timeouts.write`` is the handler's
deadline (default 60 s; past it the client gets 504 and the handler is
terminated); ``timeouts.read`` bounds reading the request body (408).
Handlers run on the service's own process host (its ID is the service's),
with ``host.worker_count`` workers (default 16): a handler waiting on I/O
(a workflow start) holds one of them, not a worker of the app's hosts.
``host.lua_threads`` is, as on a ``process.host``, how many threads of its
own run their Lua: 0 by default, the server's event loop thread runs it (the
cheapest per request); 1 or more, so that a handler that computes for long
does not hold the server's other connections meanwhile (see
``actorflow.http._lane``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from actors import errors
from actors.entries import Entry, KindSpec, Registry, check_lifecycle, register_kind
from actors.lua.stdlib import duration_seconds

__all__ = [
    "METHODS",
    "SUPPORTED_MIDDLEWARE",
    "Route",
    "ServiceConfig",
    "parse_addr",
    "routes_of",
    "service_config",
]

METHODS = ("GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "TRACE")

MIDDLEWARE_OPTIONS = {
    "cors": {
        "cors.allow.origins",
        "cors.allow.methods",
        "cors.allow.headers",
        "cors.expose.headers",
        "cors.allow.credentials",
        "cors.max.age",
    },
    "compress": {"compress.level", "compress.min.length"},
}
SUPPORTED_MIDDLEWARE = tuple(sorted(MIDDLEWARE_OPTIONS))

DEFAULT_MAX_BODY = 10 * 1024 * 1024
DEFAULT_MAX_CONCURRENT = 1024
DEFAULT_HANDLER_TIMEOUT = 60.0
DEFAULT_HANDLER_WORKERS = 16

_SEGMENT = re.compile(r"\{([^{}]*)\}")
_PARAM = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.\.\.)?$")


def parse_addr(addr: Any) -> tuple[str, int]:
    """``":8080"``, ``"127.0.0.1:8080"`` or ``"[::1]:8080"`` → ``(host, port)``; ``INVALID`` otherwise.

    An empty host listens on every interface, as Go's ``":8080"`` does.
    """
    if not isinstance(addr, str) or ":" not in addr:
        raise errors.Error(errors.INVALID, f"addr must be HOST:PORT or :PORT, got {addr!r}")
    host, _, port_text = addr.rpartition(":")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
        raise errors.Error(errors.INVALID, f"addr {addr!r}: the port must be a number from 0 to 65535")
    return host or "0.0.0.0", int(port_text)


@dataclass(frozen=True)
class ServiceConfig:
    """An ``http.service`` entry, resolved."""

    id: str
    host: str
    port: int
    read_timeout: float | None
    handler_timeout: float
    idle_timeout: float
    max_body: int
    max_concurrent: int
    handler_workers: int
    lua_threads: int = 0
    """``host.lua_threads``: 0, the handlers' Lua runs on the server's loop thread; else on
    that many threads of the service's host."""


def service_config(entry: Entry) -> ServiceConfig:
    host, port = parse_addr(entry.get("addr"))
    timeouts = entry.get("timeouts") or {}

    def seconds(key: str, default: float | None) -> float | None:
        value = timeouts.get(key)
        if value in (None, ""):
            return default
        result = duration_seconds(value, number_unit=1.0, what=f"timeouts.{key}")
        return default if result == 0 else result  # 0 disables: the default bound stays for the handler

    return ServiceConfig(
        id=entry.id,
        host=host,
        port=port,
        read_timeout=seconds("read", None),
        handler_timeout=seconds("write", DEFAULT_HANDLER_TIMEOUT) or DEFAULT_HANDLER_TIMEOUT,
        idle_timeout=seconds("idle", 5.0) or 5.0,
        max_body=int(entry.get("max_body") or DEFAULT_MAX_BODY),
        max_concurrent=int(entry.get("max_concurrent") or DEFAULT_MAX_CONCURRENT),
        handler_workers=int(entry.get("host.worker_count") or DEFAULT_HANDLER_WORKERS),
        lua_threads=int(entry.get("host.lua_threads") or 0),
    )


@dataclass(frozen=True)
class Route:
    """One endpoint under its router: what Starlette serves."""

    endpoint_id: str
    router_id: str
    methods: tuple[str, ...] | None
    """``None`` for ``method: "*"`` (every method)."""
    path: str
    """The full path in Starlette's syntax (``{param}``, ``{tail:path}``)."""
    func: str
    middleware: tuple[str, ...]
    options: dict[str, Any]


def starlette_path(prefix: str, path: str) -> str:
    """Router prefix + endpoint path, with ``{name...}`` as Starlette's ``{name:path}``."""
    full = "/" + "/".join(part for part in (prefix.strip("/"), path.strip("/")) if part)
    if path.endswith("/") and full != "/":
        full += "/"
    return _SEGMENT.sub(
        lambda m: "{" + m.group(1)[:-3] + ":path}" if m.group(1).endswith("...") else m.group(0), full
    )


def routes_of(registry: Registry, service_id: str) -> list[Route]:
    """The routes of one ``http.service``, in declaration order."""
    routers = {
        entry.id: entry
        for entry in registry.of_kind("http.router")
        if entry.ref(str(entry.meta_get("server") or "")) == service_id
    }
    routes = []
    for entry in registry.of_kind("http.endpoint"):
        router_id = entry.ref(str(entry.meta_get("router") or ""))
        router = routers.get(router_id)
        if router is None:
            continue
        method = str(entry.get("method")).upper()
        routes.append(
            Route(
                endpoint_id=entry.id,
                router_id=router_id,
                methods=None if method == "*" else (method,),
                path=starlette_path(str(router.get("prefix") or ""), str(entry.get("path"))),
                func=entry.ref(str(entry.get("func"))),
                middleware=tuple(router.get("middleware") or ()),
                options=dict(router.get("options") or {}),
            )
        )
    return routes


# -- checks -----------------------------------------------------------------------------------


def _check_service(entry: Entry, registry: Registry) -> list[str]:
    messages = check_lifecycle(entry, registry)
    try:
        parse_addr(entry.get("addr"))
    except errors.Error as err:
        messages.append(err.message())
    timeouts = entry.get("timeouts")
    if timeouts is not None:
        if not isinstance(timeouts, dict):
            messages.append("timeouts must be a mapping (read, write, idle)")
        else:
            for key, value in timeouts.items():
                if key not in ("read", "write", "idle"):
                    messages.append(f"timeouts.{key} is not a known timeout (read, write, idle)")
                    continue
                try:
                    if duration_seconds(value, number_unit=1.0, what=f"timeouts.{key}") < 0:
                        messages.append(f"timeouts.{key} must not be negative")
                except errors.Error as err:
                    messages.append(err.message())
    host = entry.get("host")
    if host is not None and not isinstance(host, dict):
        messages.append("host must be a mapping (worker_count, buffer_size, lua_threads)")
    lua_threads = entry.get("host.lua_threads")
    if lua_threads is not None and (
        isinstance(lua_threads, bool) or not isinstance(lua_threads, int) or not 0 <= lua_threads <= 64
    ):
        messages.append(f"host.lua_threads must be 0 (the server's own thread) to 64, got {lua_threads!r}")
    for key in ("max_body", "max_concurrent", "host.worker_count", "host.buffer_size"):
        value = entry.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            messages.append(f"{key} must be a positive integer")
    for key, what in (("tls", "TLS termination"), ("network", "network overlays")):
        if entry.get(key):
            messages.append(f"{key}: {what} is not supported by actorflow (put a TLS proxy in front)")
    return messages


def _check_router(entry: Entry, registry: Registry) -> list[str]:
    messages = []
    if not entry.meta_get("server"):
        messages.append("missing meta.server (the http.service this router belongs to)")
    prefix = entry.get("prefix", "")
    if not isinstance(prefix, str) or (prefix and not prefix.startswith("/")):
        messages.append(f"prefix must be a path starting with /, got {prefix!r}")
    middleware = entry.get("middleware") or []
    if not isinstance(middleware, list) or not all(isinstance(item, str) for item in middleware):
        messages.append("middleware must be a list of names")
        middleware = []
    for name in middleware:
        if name not in MIDDLEWARE_OPTIONS:
            messages.append(
                f"middleware {name!r} is not supported by actorflow (supported: {', '.join(SUPPORTED_MIDDLEWARE)})"
            )
    options = entry.get("options") or {}
    if not isinstance(options, dict):
        messages.append("options must be a mapping of middleware options")
        options = {}
    for key in options:
        owner = str(key).split(".", 1)[0]
        if owner not in middleware:
            messages.append(f"option {key!r} is for no middleware this router lists")
        elif owner in MIDDLEWARE_OPTIONS and key not in MIDDLEWARE_OPTIONS[owner]:
            supported = ", ".join(sorted(MIDDLEWARE_OPTIONS[owner]))
            messages.append(f"option {key!r} is not supported (supported: {supported})")
    for key in ("post_middleware", "post_options"):
        if entry.get(key):
            messages.append(f"{key}: post-match middleware is not supported by actorflow")
    return messages


def _check_endpoint(entry: Entry, registry: Registry) -> list[str]:
    messages = []
    if not entry.meta_get("router"):
        messages.append("missing meta.router (the http.router this endpoint belongs to)")
    method = entry.get("method")
    if not isinstance(method, str) or (method.upper() not in METHODS and method != "*"):
        messages.append(f'method must be one of {", ".join(METHODS)} or "*", got {method!r}')
    path = entry.get("path")
    if not isinstance(path, str) or not path.startswith("/"):
        messages.append(f"path must start with /, got {path!r}")
    else:
        segments = _SEGMENT.findall(path)
        for index, name in enumerate(segments):
            if not _PARAM.match(name):
                messages.append(f"path parameter {{{name}}} must be a name (letters, digits, _)")
            elif name.endswith("...") and (index != len(segments) - 1 or not path.rstrip("/").endswith("}")):
                messages.append(f"wildcard {{{name}}} must be the last segment of the path")
        if len(set(segments)) != len(segments):
            messages.append("a path parameter appears twice")
        if re.sub(_SEGMENT, "", path).count("{") or re.sub(_SEGMENT, "", path).count("}"):
            messages.append("unbalanced { } in path")
    messages.extend(_duplicate_route(entry, registry))
    return messages


def _duplicate_route(entry: Entry, registry: Registry) -> list[str]:
    """Two endpoints of one service with the same method and full path: the later one is reported."""
    mine = _route_key(entry, registry)
    if mine is None:
        return []
    for other in registry.of_kind("http.endpoint"):
        if other is entry:
            return []
        key = _route_key(other, registry)
        same_place = key is not None and key[0] == mine[0] and key[2] == mine[2]
        if same_place and key is not None and (key[1] == mine[1] or "*" in (key[1], mine[1])):
            try:
                where = f"{other.file.relative_to(registry.root)}:{other.line}"
            except ValueError:
                where = other.where()
            return [f"route {mine[1]} {mine[2]} is already served by {other.id} ({where})"]
    return []


def _route_key(entry: Entry, registry: Registry) -> tuple[str, str, str] | None:
    router = registry.get(entry.ref(str(entry.meta_get("router") or "")))
    method, path = entry.get("method"), entry.get("path")
    if (
        router is None
        or router.kind != "http.router"
        or not isinstance(method, str)
        or not isinstance(path, str)
    ):
        return None
    server = router.ref(str(router.meta_get("server") or ""))
    prefix = router.get("prefix") or ""
    if not isinstance(prefix, str):
        return None
    return server, method.upper(), starlette_path(prefix, path)


def _check_static(entry: Entry, registry: Registry) -> list[str]:
    return ["http.static is not supported by actorflow yet (serve static files from a proxy in front)"]


register_kind(
    KindSpec(
        "http.service",
        required=("addr",),
        check=_check_service,
        description="an HTTP server (addr, timeouts, lifecycle)",
    )
)
register_kind(
    KindSpec(
        "http.router",
        references={"meta.server": ("http.service",)},
        check=_check_router,
        description="routes under a prefix on an http.service (meta.server, prefix, middleware)",
    )
)
register_kind(
    KindSpec(
        "http.endpoint",
        required=("method", "path", "func"),
        references={"meta.router": ("http.router",), "func": ("function.lua",)},
        check=_check_endpoint,
        description="an HTTP method and path served by a function.lua handler",
    )
)
register_kind(KindSpec("http.static", check=_check_static, description="static files (not supported)"))
