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

The router counts the bytes of the messages it holds (``held_bytes``): they
are still the process's mailbox, and count against its limit
(:mod:`actors.limits`) until a channel takes them (``taken_bytes``).  A CANCEL event
that finds another one still pending is merged into it, so a process that
never reads its events holds at most one.
"""

from __future__ import annotations

from collections import deque
from typing import Any

from actors import codec, errors
from actors.channel import Channel
from actors.events import Cancel, Exit, LinkDown, Message

__all__ = ["Router", "validate_listen_topic"]


class _Subscription:
    __slots__ = ("channel", "messages")

    def __init__(self, channel: Channel, messages: bool) -> None:
        self.channel = channel
        self.messages = messages


class Router:
    """A process's subscriptions and its still-unrouted mailbox.

    Pending messages are kept per topic (in arrival order, with a sequence
    number) so that routing costs what is delivered, not what is waiting: a
    process sitting on thousands of unread messages for one topic does not
    slow down the others.  Messages without a listener reach the inbox in
    global arrival order.
    """

    __slots__ = (
        "_by_topic",
        "_events",
        "_events_pending",
        "_inbox",
        "_seq",
        "_topics",
        "dirty",
        "held_bytes",
        "taken_bytes",
    )

    def __init__(self) -> None:
        self._by_topic: dict[str, deque[tuple[int, Message, int]]] = {}
        self._events_pending: deque[Exit | LinkDown | Cancel] | None = None  # made on first event
        self._seq = 0
        self._topics: dict[str, _Subscription] = {}
        self._inbox: Channel | None = None
        self._events: Channel | None = None
        self.dirty = False
        """Something changed that may let pending items move: flush again."""
        self.held_bytes = 0
        """Bytes of the messages waiting here for a channel (``message_bytes``)."""
        self.taken_bytes = 0
        """Bytes of the messages handed to a channel since the driver last looked (their room
        in the mailbox is free again)."""

    # -- incoming ------------------------------------------------------------------------

    def push_message(self, message: Message, size: int = 0) -> None:
        """Queue ``message``; ``size`` is what it counts against the mailbox bytes (``message_bytes``)."""
        self._seq += 1
        queue = self._by_topic.get(message.topic)
        if queue is None:
            queue = self._by_topic[message.topic] = deque()
        queue.append((self._seq, message, size))
        self.held_bytes += size
        self.dirty = True

    def push_event(self, event: Exit | LinkDown | Cancel) -> None:
        pending = self._events_pending
        if pending is None:
            pending = self._events_pending = deque()
        elif type(event) is Cancel and any(type(waiting) is Cancel for waiting in pending):
            return  # merged into the CANCEL still unread: its deadline, if any, applies all the same
        pending.append(event)
        self.dirty = True

    @property
    def pending_count(self) -> int:
        return len(self._events_pending or ()) + sum(len(queue) for queue in self._by_topic.values())

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
        """Move every pending item that can move now into its channel, in arrival order.

        Messages for different channels are handed over in the order they
        arrived (the spec: the mailbox is flushed in order), so the tasks
        they wake run in that order: an ``increment`` sent before a
        ``finish`` is seen first even when ``finish``'s listener was opened
        first.  A channel with no room blocks only its own topic (or, for the
        inbox, every topic without a listener).
        """
        self.dirty = False
        events = self._events_pending
        if events and self._events is not None:
            while events and self._events.offer(events[0]):
                events.popleft()
        by_topic = self._by_topic
        if not by_topic:
            return
        if len(by_topic) == 1:  # the common case: one topic has messages waiting
            topic, queue = next(iter(by_topic.items()))
            subscription = self._topics.get(topic)
            if subscription is not None:
                channel = subscription.channel
                raw = not subscription.messages
                while queue:
                    _seq, message, size = queue[0]
                    if not channel.offer(message.payload if raw else message):
                        break
                    queue.popleft()
                    self.held_bytes -= size
                    self.taken_bytes += size
            elif self._inbox is not None:
                inbox = self._inbox
                while queue and inbox.offer(queue[0][1]):
                    size = queue.popleft()[2]
                    self.held_bytes -= size
                    self.taken_bytes += size
            if not queue:
                del by_topic[topic]
            return
        self._flush_in_order(by_topic)

    def _flush_in_order(self, by_topic: dict[str, deque[tuple[int, Message, int]]]) -> None:
        """Several topics have messages waiting: deliver the oldest deliverable one, repeatedly."""
        topics = self._topics
        inbox = self._inbox
        blocked: set[str] = set()
        inbox_open = inbox is not None
        while True:
            oldest_topic: str | None = None
            oldest_seq = 0
            for topic, queue in by_topic.items():
                if topic in blocked or (not inbox_open and topic not in topics):
                    continue
                seq = queue[0][0]
                if oldest_topic is None or seq < oldest_seq:
                    oldest_topic, oldest_seq = topic, seq
            if oldest_topic is None:
                return
            queue = by_topic[oldest_topic]
            message = queue[0][1]
            subscription = topics.get(oldest_topic)
            if subscription is not None:
                if not subscription.channel.offer(message if subscription.messages else message.payload):
                    blocked.add(oldest_topic)
                    continue
            elif inbox is None or not inbox.offer(message):
                inbox_open = False
                continue
            size = queue.popleft()[2]
            self.held_bytes -= size
            self.taken_bytes += size
            if not queue:
                del by_topic[oldest_topic]

    def recall(self, handed: list[tuple[Channel, Any]]) -> None:
        """Take back what was routed but not read, and drop every subscription (``process.upgrade``).

        ``handed`` are the values channels handed tasks that have not run with
        them (``Scheduler.handed``).  They and the values still buffered in the
        subscription channels go back to the front of the mailbox, in the order
        they were delivered, for the program that replaces the old one.  A value
        a raw ``listen`` channel held is its payload: it comes back as a
        message with no sender.
        """
        topics = {
            id(subscription.channel): (topic, subscription) for topic, subscription in self._topics.items()
        }
        messages: list[Message] = []
        events: list[Exit | LinkDown | Cancel] = []

        def take(channel: Channel, value: Any) -> None:
            if channel is self._events:
                events.append(value)
            elif channel is self._inbox:
                messages.append(value)
            elif id(channel) in topics:
                topic, subscription = topics[id(channel)]
                if subscription.messages:
                    messages.append(value)
                else:
                    payloads = () if value is None else (codec.encode(value),)
                    messages.append(Message(topic, None, payloads))

        for channel, value in handed:
            take(channel, value)
        channels = [subscription.channel for subscription in self._topics.values()]
        for channel in (*channels, self._inbox, self._events):
            if channel is None:
                continue
            while len(channel):
                received = channel.try_receive()
                if received is None:
                    break
                take(channel, received[0])
            channel.close()
        lowest = min((queue[0][0] for queue in self._by_topic.values()), default=self._seq + 1)
        for offset, message in enumerate(reversed(messages), start=1):
            queue = self._by_topic.get(message.topic)
            if queue is None:
                queue = self._by_topic[message.topic] = deque()
            # Size 0: the mailbox gave this message's room back when a channel took it; a
            # recalled message is at most one per channel, not something a sender can grow.
            queue.appendleft((lowest - offset, message, 0))
        if events:
            self._events_pending = deque([*events, *(self._events_pending or ())])
        self._topics.clear()
        self._inbox = None
        self._events = None
        self.dirty = True

    def close(self) -> None:
        """Close every channel (the process ended).

        The channels forget the router: Lua may hold a channel until its
        garbage collector runs, and must not keep the ended process's router
        (and what it still holds) alive meanwhile.
        """
        channels = [subscription.channel for subscription in self._topics.values()]
        channels.extend(channel for channel in (self._inbox, self._events) if channel is not None)
        for channel in channels:
            channel.close()
            channel.on_waiting = channel.on_take = None
        self._topics.clear()
        self._by_topic.clear()
        self._events_pending = None
        self._inbox = self._events = None
        self.held_bytes = self.taken_bytes = 0


def validate_listen_topic(topic: str) -> None:
    if not isinstance(topic, str) or not topic:
        raise errors.Error(errors.INVALID, "topic must be a non-empty string")
    if topic.startswith("@"):
        raise errors.Error(errors.INVALID, f"cannot listen on @ topics ({topic!r} is reserved)")
