"""actorflow.http: the ``http.service``, ``http.router`` and ``http.endpoint`` kinds.

Importing the package registers the kinds (their checks run at load time)
and the Lua ``http`` module (:mod:`actorflow.http.module`);
:func:`http_units` is what the app starts for them: one uvicorn server per
``http.service``, each request handled by a ``function.lua`` process (see
:mod:`actorflow.http.server`), the request and its response shared through
an :class:`~actorflow.http.exchange.Exchange`.
"""

from actorflow.http import module as _module
from actorflow.http._kinds import METHODS, SUPPORTED_MIDDLEWARE, Route, ServiceConfig, parse_addr
from actorflow.http.exchange import Exchange, Request, Response, exchange_of
from actorflow.http.server import HttpServiceUnit, build_asgi, http_units

_module.register()  # require("http") for the entries that list it

__all__ = [
    "METHODS",
    "SUPPORTED_MIDDLEWARE",
    "Exchange",
    "HttpServiceUnit",
    "Request",
    "Response",
    "Route",
    "ServiceConfig",
    "build_asgi",
    "exchange_of",
    "http_units",
    "parse_addr",
]
