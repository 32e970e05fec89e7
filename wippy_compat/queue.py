"""The ``queue`` module and the queue kinds (``en/lua/storage/queue.md``, ``en/guides/queue-consumers.md``).

``queue.driver.memory`` is the in-memory driver; a ``queue.queue`` names
its driver and holds at most ``driver_options.memory.max_length`` messages
(:data:`DEFAULT_MAX_LENGTH` by default: a publish to a full queue fails with
``LIMIT_EXCEEDED``).  ``queue.publish(id, data [, headers])`` enqueues.

A ``queue.consumer`` delivers each message to its ``func`` (a
``function.lua``), ``concurrency`` at a time, as its argument; inside it,
``queue.message()`` is the delivery (``id``, ``header``, ``headers``,
``ack``, ``nack``).  Unless the handler settles it, the outcome does: a call
without an error acks, an error nacks, and the memory driver puts a nacked
message back at the end of its queue (the page's rule; it can fail when
the queue is full, and the message is then dropped with a warning).
Settlement is single-shot.  Messages are lost when the app stops, as the
page says of the memory driver.

Each driver, queue and consumer is a unit of the app (:mod:`._units`): a
queue starts after its driver, a consumer after its queue and the host its
function runs on.  A consumer stops as the page's graceful shutdown says:
no new deliveries, then a wait for the calls in flight, up to its
``stop_timeout``, after which the calls still running are terminated (their
messages nacked); a stopped queue refuses publishes (``UNAVAILABLE``) and
drops what it holds.  A
consumer with ``lifecycle.auto_start: false`` does not start.
"""

from __future__ import annotations

import collections
import logging
import secrets
import threading
import time
from dataclasses import dataclass, field
from importlib import resources
from typing import TYPE_CHECKING, Any

from actorflow.units import lifecycle_of
from actors import errors
from actors.entries import Entry, KindSpec, Registry, check_lifecycle, register_kind
from actors.lua import Caller, register_module
from actors.pid import PID
from actors.seam import SpawnRequest
from wippy_compat._context import AppResources, resources_of
from wippy_compat._units import ContextUnit, EntryUnit

if TYPE_CHECKING:
    from actorflow.app import App

__all__ = ["DEFAULT_MAX_LENGTH", "MAX_CONCURRENCY", "Queues", "queue_units", "queues_of"]

DEFAULT_MAX_LENGTH = 10_000
"""The most messages a memory queue holds unless ``driver_options.memory.max_length`` says."""
MAX_CONCURRENCY = 1000
MAX_PREFETCH = 10_000
TERMINATE_WAIT = 1.0
"""Seconds a stopping consumer waits for the calls it terminated to end."""
DELIVERY_KEY = "queue.delivery"
"""The context key that carries a consumer's delivery to its function."""

logger = logging.getLogger("wippy_compat.queue")


@dataclass
class _Message:
    id: str
    data: Any
    headers: dict[str, Any]
    attempts: int = 0


@dataclass
class _Queue:
    id: str
    name: str
    max_length: int
    messages: collections.deque[_Message] = field(default_factory=collections.deque)
    consumers: list[_Consumer] = field(default_factory=list)


class _Consumer:
    """Pulls from its queue and calls its function, ``concurrency`` calls at a time."""

    def __init__(self, queues: Queues, entry: Entry, queue: _Queue) -> None:
        self.queues = queues
        self.id = entry.id
        self.func = entry.ref(str(entry.get("func")))
        self.concurrency = int(entry.get("concurrency") or 1)
        self.queue = queue
        self.running = 0
        self.stopped = False
        self.calls: dict[str, PID] = {}
        """The calls in flight: delivery token → the PID of the function's process."""

    def pump(self) -> None:
        """Start calls while there are messages and free workers (under the queues' lock)."""
        while not self.stopped and self.running < self.concurrency and self.queue.messages:
            message = self.queue.messages.popleft()
            self.running += 1
            self.queues.deliver(self, message)


class Queues:
    """The app's running queues and consumers."""

    def __init__(self, resources: AppResources) -> None:
        self.node = resources.node
        self.app = resources.app
        # Re-entrant: a spawn made under it could, on some host, end the call (and take it) at once.
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)
        self._queues: dict[str, _Queue] = {}
        self._declared = {entry.id for entry in resources.registry.of_kind("queue.queue")}
        self._deliveries: dict[str, tuple[_Consumer, _Message, list[bool]]] = {}

    def open_queue(self, entry: Entry) -> _Queue:
        """Start the queue of ``entry`` (empty: the memory driver keeps nothing across runs)."""
        options = (
            ((entry.get("driver_options") or {}).get("memory") or {})
            if isinstance(entry.get("driver_options"), dict)
            else {}
        )
        max_length = int(options.get("max_length") or DEFAULT_MAX_LENGTH)
        queue = _Queue(entry.id, str(entry.get("queue_name") or entry.name), max_length)
        with self._lock:
            self._queues[entry.id] = queue
        return queue

    def close_queue(self, queue_id: str) -> int:
        """Stop a queue: publishes are refused from now on; how many messages it dropped."""
        with self._lock:
            queue = self._queues.pop(queue_id, None)
            if queue is None:
                return 0
            dropped = len(queue.messages)
            queue.messages.clear()
        if dropped:
            logger.warning("queue %s stopped with %d messages: dropped (memory driver)", queue_id, dropped)
        return dropped

    def start_consumer(self, entry: Entry) -> _Consumer:
        """Start delivering the messages of the consumer's queue to its function."""
        with self._lock:
            queue = self.queue(entry.ref(str(entry.get("queue"))))
            consumer = _Consumer(self, entry, queue)
            queue.consumers.append(consumer)
            consumer.pump()
        return consumer

    def stop_consumer(self, consumer: _Consumer, timeout: float) -> int:
        """No new deliveries, then wait up to ``timeout`` for the calls in flight, then terminate
        those still running (their messages are nacked); how many had to be terminated."""
        deadline = time.monotonic() + timeout
        with self._lock:
            consumer.stopped = True
            if consumer in consumer.queue.consumers:
                consumer.queue.consumers.remove(consumer)
            self._wait_idle(consumer, deadline)
            left = list(consumer.calls.values())
        if not left:
            return 0
        logger.warning(
            "queue consumer %s: %d calls still running after its stop_timeout (%g s): terminated",
            consumer.id, len(left), timeout,
        )  # fmt: skip
        for pid in left:
            try:
                self.node.terminate(pid)
            except errors.Error:
                pass  # it ended meanwhile
        with self._lock:
            self._wait_idle(consumer, time.monotonic() + TERMINATE_WAIT)
        return len(left)

    def _wait_idle(self, consumer: _Consumer, deadline: float) -> None:
        while consumer.running > 0:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            self._changed.wait(remaining)

    def queue(self, queue_id: Any) -> _Queue:
        if not isinstance(queue_id, str) or not queue_id:
            raise errors.Error(errors.INVALID, "queue: the queue ID must be a non-empty string")
        with self._lock:
            found = self._queues.get(queue_id)
        if found is None:
            if queue_id in self._declared:
                raise errors.Error(errors.UNAVAILABLE, f"queue: {queue_id} is not running", retryable=True)
            raise errors.Error(errors.NOT_FOUND, f"queue: no queue {queue_id!r} (a queue.queue entry)")
        return found

    def publish(self, queue_id: Any, data: Any, headers: Any = None) -> bool:
        """Enqueue ``data``; ``LIMIT_EXCEEDED`` when the queue is full."""
        queue = self.queue(queue_id)
        if data is None:
            raise errors.Error(errors.INVALID, "queue.publish: the message data is empty")
        if headers is not None and not isinstance(headers, dict):
            raise errors.Error(errors.INVALID, "queue.publish: headers must be a table")
        message = _Message(secrets.token_hex(8), data, dict(headers or {}))
        with self._lock:
            if self._queues.get(queue.id) is not queue:
                raise errors.Error(errors.UNAVAILABLE, f"queue: {queue.id} is not running", retryable=True)
            if len(queue.messages) >= queue.max_length:
                raise errors.Error(
                    errors.LIMIT_EXCEEDED,
                    f"queue {queue.id} is full ({queue.max_length} messages)",
                    retryable=True,
                )
            queue.messages.append(message)
            self._pump(queue)
        return True

    def _pump(self, queue: _Queue) -> None:
        for consumer in queue.consumers:
            consumer.pump()

    def deliver(self, consumer: _Consumer, message: _Message) -> None:
        """Call the consumer's function with ``message`` (under the lock; the spawn does not wait)."""
        token = secrets.token_hex(12)
        settled: list[bool] = []
        self._deliveries[token] = (consumer, message, settled)
        message.attempts += 1
        context = {
            DELIVERY_KEY: {
                "token": token,
                "id": message.id,
                "queue": consumer.queue.id,
                "headers": message.headers,
            }
        }
        request = SpawnRequest(
            consumer.func,
            (message.data,),
            context=context,
            on_exit=lambda value, error: self._finished(token, error),
        )
        try:
            pid = self.node.spawn_request(request, self.app.host_for(consumer.func))
            if token in self._deliveries:  # not over already
                consumer.calls[token] = pid
        except errors.Error as err:
            logger.warning("queue consumer %s cannot call %s: %s", consumer.id, consumer.func, err)
            threading.Thread(target=self._finished, args=(token, err), daemon=True).start()

    def _finished(self, token: str, error: errors.Error | None) -> None:
        with self._lock:
            found = self._deliveries.pop(token, None)
            if found is None:
                return
            consumer, message, settled = found
            consumer.running -= 1
            consumer.calls.pop(token, None)
            if not settled:
                self._settle_locked(consumer, message, error is None)
            self._pump(consumer.queue)
            self._changed.notify_all()

    def settle(self, token: Any, ack: bool) -> bool:
        """``msg:ack()``/``msg:nack()``: the first settlement wins (false for later ones)."""
        with self._lock:
            found = self._deliveries.get(token)
            if found is None or found[2]:
                return False
            consumer, message, settled = found
            settled.append(True)
            self._settle_locked(consumer, message, ack)
            self._pump(consumer.queue)
            return True

    def _settle_locked(self, consumer: _Consumer, message: _Message, ack: bool) -> None:
        if ack:
            return
        queue = consumer.queue
        if self._queues.get(queue.id) is not queue:
            logger.warning("queue %s is stopped: the nacked message %s is dropped", queue.id, message.id)
            return
        if len(queue.messages) >= queue.max_length:
            logger.warning("queue %s is full: the nacked message %s is dropped", queue.id, message.id)
            return
        queue.messages.append(message)  # the memory driver's redelivery: at the end of the queue

    def info(self, queue_id: Any) -> dict[str, Any]:
        queue = self.queue(queue_id)
        with self._lock:
            in_flight = sum(1 for consumer, _, _ in self._deliveries.values() if consumer.queue is queue)
            return {
                "message_count": len(queue.messages),
                "ready": len(queue.messages),
                "in_flight": in_flight,
                "consumer_count": len(queue.consumers),
                "max_length": queue.max_length,
            }

    def close(self) -> None:
        """Stop whatever is left (the units stop each part; this is the app's last word)."""
        with self._lock:
            for queue in self._queues.values():
                for consumer in queue.consumers:
                    consumer.stopped = True
            self._queues.clear()


def queues_of(resources: AppResources) -> Queues:
    return resources.part("queue", Queues)


class QueueDriverUnit(EntryUnit):
    """A ``queue.driver.memory``: nothing to start (the queues hold the messages); what queues require."""

    label = "queue driver"

    def start(self) -> None:
        pass

    def stop(self, timeout: float) -> None:
        pass


class QueueUnit(EntryUnit):
    """A ``queue.queue``, after its driver."""

    label = "queue"

    def __init__(self, app: App, context: ContextUnit, entry: Entry) -> None:
        super().__init__(app, context, entry, needs=[entry.ref(str(entry.get("driver")))])
        self.max_length = 0

    def start(self) -> None:
        self.max_length = queues_of(self.resources).open_queue(self.entry).max_length
        self.app.progress(f"started queue {self.id} (memory, at most {self.max_length} messages)")

    def stop(self, timeout: float) -> None:
        queues_of(self.resources).close_queue(self.id)

    def detail(self) -> str:
        return f"memory, at most {self.max_length} messages"


class ConsumerUnit(EntryUnit):
    """A ``queue.consumer``, after its queue, its function and the host the function runs on."""

    label = "consumer"

    def __init__(self, app: App, context: ContextUnit, entry: Entry) -> None:
        self.queue_id = entry.ref(str(entry.get("queue")))
        self.func = entry.ref(str(entry.get("func")))
        super().__init__(app, context, entry, needs=[self.queue_id, self.func, app.default_host_id])
        self.consumer: _Consumer | None = None

    def start(self) -> None:
        self.consumer = queues_of(self.resources).start_consumer(self.entry)
        self.app.progress(f"started consumer {self.id} ({self.detail()})")

    def stop(self, timeout: float) -> None:
        consumer, self.consumer = self.consumer, None
        if consumer is not None:
            queues_of(self.resources).stop_consumer(consumer, timeout)

    def detail(self) -> str:
        concurrency = int(self.entry.get("concurrency") or 1)
        return f"{self.queue_id} → {self.func}, {concurrency} at a time"


def queue_units(app: App, context: ContextUnit) -> list[EntryUnit]:
    """The drivers, the queues, and the consumers whose ``lifecycle.auto_start`` is not false."""
    registry = app.registry
    units: list[EntryUnit] = [
        QueueDriverUnit(app, context, entry) for entry in registry.of_kind("queue.driver.memory")
    ]
    units.extend(QueueUnit(app, context, entry) for entry in registry.of_kind("queue.queue"))
    units.extend(
        ConsumerUnit(app, context, entry)
        for entry in registry.of_kind("queue.consumer")
        if lifecycle_of(entry).auto_start is not False
    )
    return units


# -- the module ------------------------------------------------------------------------------------


def _queue(caller: Caller, what: str, *args: Any) -> Any:
    queues = queues_of(resources_of(caller))
    if what == "publish":
        return queues.publish(*args)
    if what == "info":
        return queues.info(args[0])
    if what == "message":
        delivery = caller.context.get(DELIVERY_KEY)
        if not isinstance(delivery, dict):
            raise errors.Error(
                errors.INVALID, "queue.message: no delivery here (only inside a queue consumer's function)"
            )
        return delivery
    if what in ("ack", "nack"):
        return queues.settle(args[0], what == "ack")
    raise errors.Error(errors.INVALID, f"queue: no function {what}")


register_module(
    "queue", resources.files(__package__) / "lua" / "queue.lua", {"call": _queue}, in_workflows=False
)


# -- kinds -----------------------------------------------------------------------------------------


def _check_queue(entry: Entry, registry: Registry) -> list[str]:
    messages = check_lifecycle(entry, registry)
    options = entry.get("driver_options")
    if options is not None and not isinstance(options, dict):
        messages.append("driver_options must be a mapping (memory: {max_length: …})")
    length = entry.get("driver_options.memory.max_length")
    if length is not None and (isinstance(length, bool) or not isinstance(length, int) or length < 1):
        messages.append("driver_options.memory.max_length must be a positive integer")
    codec = entry.get("codec")
    if codec is not None and codec != "json/plain":
        messages.append(f"codec {codec!r} is not supported (json/plain is)")
    return messages


def _check_consumer(entry: Entry, registry: Registry) -> list[str]:
    messages = check_lifecycle(entry, registry)
    for key, top in (("concurrency", MAX_CONCURRENCY), ("prefetch", MAX_PREFETCH)):
        value = entry.get(key)
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= top
        ):
            messages.append(f"{key} must be an integer from 1 to {top}")
    return messages


register_kind(
    KindSpec("queue.driver.memory", check=check_lifecycle, description="the in-memory queue driver")
)
register_kind(
    KindSpec(
        "queue.queue",
        required=("driver",),
        references={"driver": ("queue.driver.memory",)},
        check=_check_queue,
        description="a queue of a driver",
    )
)
register_kind(
    KindSpec(
        "queue.consumer",
        required=("queue", "func"),
        references={"queue": ("queue.queue",), "func": ("function.lua",)},
        check=_check_consumer,
        description="calls a function for each message of a queue",
    )
)
