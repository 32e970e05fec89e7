"""The Lua ``http`` module: Wippy's request and response objects for HTTP handlers.

Registered as a Lua module plug-in (``actors.lua.modules``); its Lua side is
``http.lua`` beside this file.  Every operation finds the calling process's
:class:`~actorflow.http.exchange.Exchange` by its PID: a program that is not
serving an HTTP request gets ``nil, err`` (``INTERNAL``, "no HTTP request"),
as Wippy answers outside an HTTP context.  The request is handed to Lua in
one call (its fields then live in the process's own request table); the
response is built in Python, one call per method.  Not for workflows (an
HTTP request is not replayable).
"""

from __future__ import annotations

from importlib import resources
from typing import Any

from actorflow.http.exchange import Exchange, exchange_of
from actors import errors
from actors.lua.modules import Caller, register_module

__all__ = ["register"]


def _exchange(caller: Caller) -> Exchange:
    exchange = exchange_of(caller.pid)
    if exchange is None:
        raise errors.Error(
            errors.INTERNAL,
            "no HTTP request: http.request() and http.response() work in an http.endpoint's handler",
        )
    return exchange


def _request(caller: Caller) -> dict[str, Any]:
    request = _exchange(caller).request
    query_first: dict[str, str] = {}
    for key, value in _pairs(request.query_string):
        query_first.setdefault(key, value)
    return {
        "_method": request.method,
        "_path": request.path,
        "_host": request.host,
        "_remote_addr": request.remote_addr,
        "_headers": request.header_map(),
        "_body": request.body,
        "_params": dict(request.params),
        "_query": request.query_params(),
        "_query_first": query_first,
    }


def _pairs(query_string: str) -> list[tuple[str, str]]:
    from urllib.parse import parse_qsl

    return parse_qsl(query_string, keep_blank_values=True)


def _response(caller: Caller) -> bool:
    _exchange(caller)
    return True


def _decode_json(caller: Caller, body: Any) -> Any:
    from actors.lua.stdlib import json_decode

    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else str(body)
    try:
        return json_decode(text)
    except errors.Error as err:
        raise errors.Error(errors.INVALID, f"request body is not JSON: {err.message()}") from None


def _method(name: str) -> Any:
    def operation(caller: Caller, *args: Any) -> None:
        getattr(_exchange(caller), name)(*args)

    operation.__name__ = name
    return operation


def _sending(name: str) -> Any:
    """``flush`` and ``write_event``: they wait while the server has more than ``FLUSH_WAIT``
    bytes of this response to take (the handler runs on the server's thread: a loop of flushes
    that never waits would otherwise only queue, up to ``MAX_STREAM_BACKLOG``, and fail)."""

    def operation(caller: Caller, *args: Any) -> None:
        exchange = _exchange(caller)
        getattr(exchange, name)(*args)
        if exchange.must_wait():
            resume = caller.suspend()
            if not exchange.when_taken(resume):
                resume()

    operation.__name__ = name
    return operation


OPERATIONS = {
    "request": _request,
    "response": _response,
    "decode_json": _decode_json,
    **{
        name: _method(name)
        for name in ("set_status", "set_header", "set_content_type", "set_transfer", "write", "write_json")
    },
    "write_event": _sending("write_event"),
    "flush": _sending("flush"),
}


def register() -> None:
    """Make ``require("http")`` available to the entries that list ``http`` (idempotent)."""
    register_module(
        "http",
        resources.files(__package__).joinpath("http.lua"),
        OPERATIONS,
        in_workflows=False,
        waiting=("write_event", "flush"),
        replace=True,
    )
