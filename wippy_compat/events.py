"""The ``events`` module (``en/lua/core/events.md``): the app's best-effort event bus.

``events.subscribe(system [, kind])`` registers the calling process with the
app's :class:`EventBus` and listens on a topic of its own; ``events.send``
delivers ``{system, kind, path, data}`` to every matching subscriber as a
message on that topic, so a subscription is a channel like any other.
Patterns are globs on the system (``orders.*``).  Subscriptions of processes
that ended are dropped; an app holds at most :data:`MAX_SUBSCRIPTIONS`.
Delivery is best effort, as the page says: a subscriber that ended misses
the event.
"""

from __future__ import annotations

import fnmatch
import secrets
import threading
from dataclasses import dataclass
from importlib import resources
from typing import Any

from actors import errors
from actors.lua import Caller, register_module
from actors.pid import PID
from wippy_compat._context import AppResources, caller_pid, resources_of

__all__ = ["MAX_SUBSCRIPTIONS", "EventBus", "bus_of"]

MAX_SUBSCRIPTIONS = 10_000
"""The most subscriptions one app's bus holds."""


@dataclass(frozen=True)
class _Subscription:
    pid: PID
    system: str
    kind: str | None
    topic: str


class EventBus:
    """One app's subscriptions; :meth:`send` is also the Python way to publish."""

    def __init__(self, resources: AppResources) -> None:
        self.node = resources.node
        self._lock = threading.Lock()
        self._subscriptions: dict[str, _Subscription] = {}

    def subscribe(self, pid: PID, system: str, kind: str | None) -> tuple[str, str]:
        """A new subscription of ``pid``: its ID and the topic its events arrive on."""
        token = secrets.token_hex(8)
        subscription = _Subscription(pid, system, kind, f"wippy.events.{token}")
        with self._lock:
            if len(self._subscriptions) >= MAX_SUBSCRIPTIONS:
                self._drop_dead()
                if len(self._subscriptions) >= MAX_SUBSCRIPTIONS:
                    raise errors.Error(
                        errors.LIMIT_EXCEEDED, f"more than {MAX_SUBSCRIPTIONS} event subscriptions"
                    )
            self._subscriptions[token] = subscription
        return token, subscription.topic

    def unsubscribe(self, token: str, pid: PID) -> bool:
        with self._lock:
            subscription = self._subscriptions.get(token)
            if subscription is None or subscription.pid != pid:
                return False
            del self._subscriptions[token]
            return True

    def send(self, system: str, kind: str, path: str, data: Any = None) -> bool:
        """Deliver the event to every subscriber whose pattern and kind match."""
        event: dict[str, Any] = {"system": system, "kind": kind, "path": path}
        if data is not None:
            event["data"] = data
        with self._lock:
            targets = [
                (token, subscription)
                for token, subscription in self._subscriptions.items()
                if fnmatch.fnmatchcase(system, subscription.system)
                and (subscription.kind is None or subscription.kind == kind)
            ]
        for token, subscription in targets:
            if not self.node.is_alive(subscription.pid):
                with self._lock:
                    self._subscriptions.pop(token, None)
                continue
            try:
                self.node.send(subscription.pid, subscription.topic, event)
            except errors.Error:
                with self._lock:
                    self._subscriptions.pop(token, None)
        return True

    def _drop_dead(self) -> None:
        for token, subscription in list(self._subscriptions.items()):
            if not self.node.is_alive(subscription.pid):
                del self._subscriptions[token]

    def count(self) -> int:
        with self._lock:
            return len(self._subscriptions)


def bus_of(resources: AppResources) -> EventBus:
    return resources.part("events", EventBus)


def _name(value: Any, what: str, required: bool = True) -> str | None:
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value:
        raise errors.Error(errors.INVALID, f"events: {what} must be a non-empty string")
    return value


def _subscribe(caller: Caller, system: Any, kind: Any = None) -> tuple[str, str]:
    bus = bus_of(resources_of(caller))
    return bus.subscribe(
        caller_pid(caller), str(_name(system, "system")), _name(kind, "kind", required=False)
    )


def _close(caller: Caller, token: Any) -> bool:
    bus = bus_of(resources_of(caller))
    return bus.unsubscribe(str(token), caller_pid(caller))


def _send(caller: Caller, system: Any, kind: Any, path: Any, data: Any = None) -> bool:
    bus = bus_of(resources_of(caller))
    return bus.send(str(_name(system, "system")), str(_name(kind, "kind")), str(_name(path, "path")), data)


register_module(
    "events",
    resources.files(__package__) / "lua" / "events.lua",
    {"subscribe": _subscribe, "close": _close, "send": _send},
    in_workflows=False,
)
