"""Where a module's handler finds the running app's resources: one :class:`AppResources` per node.

Handlers get a :class:`~actors.lua.Caller`; its ``node`` leads here.  The
extension (:func:`wippy_compat.install`) creates the resources when the app
starts and closes them when it stops.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Any

from actors import errors
from actors.lua import Caller
from actors.pid import PID

__all__ = ["AppResources", "resources_of"]

_by_node: weakref.WeakKeyDictionary[Any, AppResources] = weakref.WeakKeyDictionary()


class AppResources:
    """The app-level services of one running app (a node), each made on first use or at start."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.node = app.node
        self.registry = app.registry
        self._parts: dict[str, Any] = {}
        self._closers: list[Callable[[], None]] = []

    def part(self, name: str, make: Callable[[AppResources], Any]) -> Any:
        """The service called ``name`` (events, env, sql, …), made by ``make(self)`` the first time."""
        part = self._parts.get(name)
        if part is None:
            part = self._parts[name] = make(self)
            close = getattr(part, "close", None)
            if close is not None:
                self._closers.append(close)
        return part

    def close(self) -> None:
        for close in reversed(self._closers):
            try:
                close()
            except Exception:  # closing must go on with the others
                import logging

                logging.getLogger("wippy_compat").exception("closing %r failed", close)
        self._closers.clear()
        self._parts.clear()


def attach(resources: AppResources) -> None:
    _by_node[resources.node] = resources


def detach(resources: AppResources) -> None:
    _by_node.pop(resources.node, None)


def resources_of(caller: Caller) -> AppResources:
    """The resources of the app the calling program runs in (``UNAVAILABLE`` outside an app)."""
    node = caller.node
    found = _by_node.get(node) if node is not None else None
    if found is None:
        raise errors.Error(errors.UNAVAILABLE, "this module needs a running actorflow app (none is here)")
    return found


def caller_pid(caller: Caller) -> PID:
    """The calling program's PID."""
    return PID.parse(caller.pid)
