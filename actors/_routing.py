"""Routing a process's mailbox into its channels: topics, inbox and events.

This is the spec's mailbox rule, shared by Python coroutine processes, Lua
processes and Lua workflows:

1. a message goes to the channel listening on exactly its topic;
2. otherwise (topics not starting with ``@``) to the inbox, if it is open;
3. otherwise it stays in the mailbox until a listener or the inbox appears:
   never dropped.

Events (EXIT, trapped LINK_DOWN, CANCEL) go to the events channel the same
way.  Delivery into a channel never blocks: when a channel has no room and no
receiver waits, the message stays pending and later messages for *that*
channel queue behind it (lossless, ordered per channel).  Topics match
exactly (the runtime has no glob topics).
"""

from __future__ import annotations

from collections import deque
from typing import Any

from actors import errors
from actors.channel import Channel
from actors.events import Cancel, Exit, LinkDown, Message

__all__ = ["Router", "validate_listen_topic"]

_EVENT = object()  # the pseudo-topic of events (``@pid/events``)


class _Subscription:
    __slots__ = ("channel", "messages")

    def __init__(self, channel: Channel, messages: bool) -> None:
        self.channel = channel
        self.messages = messages


class Router:
    """A process's subscriptions and its still-unrouted mailbox."""

    def __init__(self) -> None:
        self._pending: deque[tuple[Any, Any]] = deque()
        self._topics: dict[str, _Subscription] = {}
        self._inbox: Channel | None = None
        self._events: Channel | None = None
        self.dirty = False
        """Something changed that may let pending items move: flush again."""

    # -- incoming ------------------------------------------------------------------------

    def push_message(self, message: Message) -> None:
        self._pending.append((message.topic, message))
        self.dirty = True

    def push_event(self, event: Exit | LinkDown | Cancel) -> None:
        self._pending.append((_EVENT, event))
        self.dirty = True

    @property
    def pending_count(self) -> int:
        return len(self._pending)

    # -- subscriptions --------------------------------------------------------------------

    def listen(self, topic: str, *, messages: bool = False) -> Channel:
        """The channel (buffer 1) for exactly ``topic``; the same one on repeated calls.

        Values are payload data, or :class:`~actors.Message` objects with
        ``messages=True`` (a later ``messages=True`` switches an existing
        subscription to messages, never back).
        """
        validate_listen_topic(topic)
        subscription = self._topics.get(topic)
        if subscription is not None:
            subscription.messages = subscription.messages or messages
            return subscription.channel
        channel = self._new_channel(1)
        self._topics[topic] = _Subscription(channel, messages)
        self.dirty = True
        return channel

    def unlisten(self, channel: Channel) -> bool:
        """Close ``channel`` and drop its subscription; later messages fall back to the inbox."""
        for topic, subscription in list(self._topics.items()):
            if subscription.channel is channel:
                del self._topics[topic]
                channel.close()
                self.dirty = True
                return True
        return False

    def inbox(self) -> Channel:
        """The unbuffered channel of messages no listener takes (the same on every call)."""
        if self._inbox is None:
            self._inbox = self._new_channel(0)
            self.dirty = True
        return self._inbox

    def events(self) -> Channel:
        """The unbuffered channel of events (the same on every call)."""
        if self._events is None:
            self._events = self._new_channel(0)
            self.dirty = True
        return self._events

    def _new_channel(self, size: int) -> Channel:
        channel = Channel(size, external=True)
        channel.on_waiting = self._mark_dirty
        channel.on_take = self._mark_dirty
        return channel

    def _mark_dirty(self) -> None:
        self.dirty = True

    # -- routing ------------------------------------------------------------------------------

    def flush(self) -> None:
        """Move every pending item that can move now into its channel, in order."""
        self.dirty = False
        pending = self._pending
        if not pending:
            return
        kept: deque[tuple[Any, Any]] = deque()
        blocked: set[int] = set()
        for entry in pending:
            topic, item = entry
            target, value = self._target(topic, item)
            if target is None or id(target) in blocked or not target.offer(value):
                if target is not None:
                    blocked.add(id(target))
                kept.append(entry)
        self._pending = kept

    def _target(self, topic: Any, item: Any) -> tuple[Channel | None, Any]:
        if topic is _EVENT:
            return self._events, item
        subscription = self._topics.get(topic)
        if subscription is not None:
            return subscription.channel, item if subscription.messages else item.payload
        return self._inbox, item

    def close(self) -> None:
        """Close every channel (the process ended)."""
        for subscription in self._topics.values():
            subscription.channel.close()
        for channel in (self._inbox, self._events):
            if channel is not None:
                channel.close()
        self._topics.clear()
        self._pending.clear()


def validate_listen_topic(topic: str) -> None:
    if not isinstance(topic, str) or not topic:
        raise errors.Error(errors.INVALID, "topic must be a non-empty string")
    if topic.startswith("@"):
        raise errors.Error(errors.INVALID, f"cannot listen on @ topics ({topic!r} is reserved)")
