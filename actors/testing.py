"""``Probe``: a process you drive from a test, with blocking assertions.

In the spirit of Akka's ``TestProbe`` and ExUnit's ``assert_receive``.  A probe
is a real process (it has a PID, can link, monitor, trap links, send and be
sent to); what it receives waits until the test asks for it::

    with Probe(node, trap_links=True) as probe:
        worker = probe.spawn(Worker, link=True)
        node.send(worker, "crash")
        down = probe.expect_link_down(worker)
        assert down.error.message() == "boom"
        probe.expect_nothing(within=0.1)

A probe is driven by the thread that uses it: its mailbox is processed only
while that thread waits in ``receive``/``expect_*`` (so, like every process,
a LINK_DOWN kills a non-trapping probe at its next step).  Use one probe from
one thread.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from actors import _ops, errors
from actors._process import Behaviour, Process, _context
from actors.events import Cancel, Exit, LinkDown, Message
from actors.host import ProcessHost
from actors.node import Node
from actors.pid import PID
from actors.signals import Signal

__all__ = ["ANY", "Probe", "ProbeExited"]

Received = Message | Exit | LinkDown | Cancel

ANY: Any = object()
"""Matches any payload in :meth:`Probe.expect_message`."""


class ProbeExited(AssertionError):
    """The probe itself has ended (terminated, or killed by a link)."""


class _ProbeBehaviour(Behaviour):
    __slots__ = ("received",)

    def __init__(self) -> None:
        self.received: list[Received] = []

    def message(self, process: Process, sender: PID | None, topic: str, payloads: tuple[Any, ...]) -> None:
        self.received.append(Message(topic, sender, payloads))

    def event(self, process: Process, event: Exit | LinkDown | Cancel) -> None:
        self.received.append(event)


class Probe:
    """A test-driven process.  See the module docstring."""

    def __init__(
        self,
        node: Node,
        *,
        trap_links: bool = False,
        name: str | None = None,
        host: str | None = None,
        default_timeout: float = 2.0,
    ) -> None:
        self.node = node
        self.default_timeout = default_timeout
        self._cond = threading.Condition(threading.Lock())
        self._ready = False
        self._behaviour = _ProbeBehaviour()
        target_host = node.host(host or node.default_host_id)
        if not isinstance(target_host, ProcessHost):
            raise errors.Error(errors.INVALID, f"host {target_host.id} cannot carry a probe")
        self._process: Process = target_host.attach(
            self._behaviour, self._wake, entry_id="actors.testing.Probe"
        )
        self._process.trap_links = trap_links
        self._pump(0)
        if name is not None:
            node.names.register(name, self.pid, self._process)

    # -- identity and process API -------------------------------------------------

    @property
    def pid(self) -> PID:
        return self._process.pid

    @property
    def trap_links(self) -> bool:
        return self._process.trap_links

    @trap_links.setter
    def trap_links(self, value: bool) -> None:
        _ops.set_trap_links(self._process, value)

    @property
    def alive(self) -> bool:
        return self._process.alive

    @property
    def result(self) -> tuple[Any, errors.Error | None] | None:
        """``(value, error)`` once the probe has ended, else ``None``."""
        return self._process.result

    def spawn(self, target: Any, *args: Any, **options: Any) -> PID:
        """Spawn with this probe as the caller (``link=True``/``monitor=True`` attach to it)."""
        with self.acting():
            return self.node.spawn(target, *args, **options)

    def send(self, dest: PID | str, topic: str, *payloads: Any) -> None:
        with self.acting():
            self.node.send(dest, topic, *payloads)

    def link(self, dest: PID | str) -> None:
        with self.acting():
            _ops.link(self._process, dest)

    def unlink(self, dest: PID | str) -> None:
        with self.acting():
            _ops.unlink(self._process, dest)
            self._purge(lambda item: isinstance(item, LinkDown) and item.pid == self.node.resolve(dest))

    def monitor(self, dest: PID | str) -> None:
        with self.acting():
            _ops.monitor(self._process, dest)

    def unmonitor(self, dest: PID | str) -> None:
        with self.acting():
            _ops.unmonitor(self._process, dest)
            self._purge(lambda item: isinstance(item, Exit) and item.pid == self.node.resolve(dest))

    def terminate(self, dest: PID | str) -> None:
        with self.acting():
            self.node.terminate(dest)

    def cancel(self, dest: PID | str, deadline: float | None = None, reason: str = "") -> None:
        with self.acting():
            self.node.cancel(dest, deadline, reason)

    def close(self) -> None:
        """End the probe normally (its watchers get an EXIT, its links are dropped)."""
        if self._process.alive:
            self._process.exit()
            self._process.deliver((Signal.CALL, _noop))  # one step to run the exit protocol
            self._pump(1.0)

    def __enter__(self) -> Probe:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- receiving --------------------------------------------------------------------

    def receive(
        self, match: Callable[[Received], bool] | None = None, timeout: float | None = None
    ) -> Received:
        """Take the first received item matching ``match`` (selective receive).

        Items that do not match stay queued for later calls.  Raises
        ``AssertionError`` listing what did arrive when nothing matches within
        ``timeout`` seconds.
        """
        found = self._take(match, timeout)
        if found is None:
            limit = self.default_timeout if timeout is None else timeout
            raise AssertionError(
                f"probe {self.pid}: nothing matching within {limit} s; received: {self._describe()}"
            )
        return found

    def expect_message(
        self,
        topic: str | None = None,
        payload: Any = ANY,
        *,
        sender: PID | str | None = None,
        timeout: float | None = None,
    ) -> Message:
        """Wait for a message with ``topic`` (and ``payload``, ``sender`` when given)."""
        sender_pid = self.node.resolve(sender) if sender is not None else None

        def match(item: Received) -> bool:
            return (
                isinstance(item, Message)
                and (topic is None or item.topic == topic)
                and (payload is ANY or item.payload == payload)
                and (sender_pid is None or item.sender == sender_pid)
            )

        found = self._take(match, timeout)
        if found is None:
            wanted = f"topic={topic!r}" + ("" if payload is ANY else f" payload={payload!r}")
            raise AssertionError(f"probe {self.pid}: no message {wanted}; received: {self._describe()}")
        assert isinstance(found, Message)
        return found

    def expect_exit(
        self, pid: PID | str, *, error_kind: str | None = None, timeout: float | None = None
    ) -> Exit:
        """Wait for the EXIT event of ``pid``; with ``error_kind``, assert its error kind."""
        event = self._expect_event(Exit, pid, timeout)
        assert isinstance(event, Exit)
        _check_kind(event.error, error_kind, event)
        return event

    def expect_link_down(
        self, pid: PID | str, *, error_kind: str | None = None, timeout: float | None = None
    ) -> LinkDown:
        """Wait for the LINK_DOWN event of ``pid`` (the probe must trap links)."""
        event = self._expect_event(LinkDown, pid, timeout)
        assert isinstance(event, LinkDown)
        _check_kind(event.error, error_kind, event)
        return event

    def expect_cancel(self, *, timeout: float | None = None) -> Cancel:
        """Wait for a CANCEL event."""
        found = self._take(lambda item: isinstance(item, Cancel), timeout)
        if found is None:
            raise AssertionError(f"probe {self.pid}: no CANCEL; received: {self._describe()}")
        assert isinstance(found, Cancel)
        return found

    def expect_nothing(self, within: float = 0.1) -> None:
        """Assert that nothing is (or arrives) in the mailbox for ``within`` seconds."""
        deadline = time.monotonic() + within
        while True:
            self._pump(0)
            if self._behaviour.received:
                raise AssertionError(f"probe {self.pid}: expected nothing, received: {self._describe()}")
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            self._wait_ready(remaining)

    def wait_exit(self, timeout: float | None = None) -> tuple[Any, errors.Error | None]:
        """Run the probe until it ends (e.g. killed by a link); its ``(value, error)``."""
        deadline = time.monotonic() + (self.default_timeout if timeout is None else timeout)
        while self._process.alive:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"probe {self.pid} still alive; received: {self._describe()}")
            self._pump(remaining)
        assert self._process.result is not None
        return self._process.result[0], self._process.result[1]

    @property
    def pending(self) -> list[Received]:
        """What has been received and not yet taken (after handling the mailbox)."""
        self._pump(0)
        return list(self._behaviour.received)

    # -- internals --------------------------------------------------------------------

    def _expect_event(self, kind: type, pid: PID | str, timeout: float | None) -> Received:
        target = self.node.resolve(pid)
        found = self._take(lambda item: isinstance(item, kind) and item.pid == target, timeout)
        if found is None:
            limit = self.default_timeout if timeout is None else timeout
            label = "EXIT" if kind is Exit else "LINK_DOWN"
            raise AssertionError(
                f"probe {self.pid}: no {label} from {target} within {limit} s; received: {self._describe()}"
            )
        return found

    def _take(self, match: Callable[[Received], bool] | None, timeout: float | None) -> Received | None:
        limit = self.default_timeout if timeout is None else timeout
        deadline = time.monotonic() + limit
        while True:
            self._pump(0)
            received = self._behaviour.received
            for index, item in enumerate(received):
                if match is None or match(item):
                    del received[index]
                    return item
            if not self._process.alive:
                raise ProbeExited(f"probe {self.pid} has exited with {self._process.result}")
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            self._wait_ready(remaining)

    def _purge(self, match: Callable[[Received], bool]) -> None:
        self._pump(0)
        self._behaviour.received[:] = [item for item in self._behaviour.received if not match(item)]

    def _wake(self, _process: Process) -> None:
        with self._cond:
            self._ready = True
            self._cond.notify()

    def _wait_ready(self, timeout: float) -> None:
        with self._cond:
            if not self._ready:
                self._cond.wait(timeout)

    def _pump(self, timeout: float) -> None:
        """Run the probe's pending steps; wait up to ``timeout`` for one to arrive."""
        if timeout > 0:
            self._wait_ready(timeout)
        while True:
            with self._cond:
                if not self._ready:
                    return
                self._ready = False
            self._process.run_slice()

    @contextmanager
    def acting(self) -> Iterator[None]:
        """Inside this block, node calls from this thread are made *as the probe*.

        ``node.spawn(..., monitor=True)`` or a library function that spawns
        and links (``start_supervisor(..., monitor=True)``) then attach the
        probe, which the test can use to see how things end.
        """
        self._pump(0)
        if not self._process.alive:
            raise ProbeExited(f"probe {self.pid} has exited with {self._process.result}")
        previous = getattr(_context, "process", None)
        _context.process = self._process
        try:
            yield
        finally:
            _context.process = previous

    def _describe(self) -> str:
        items = self._behaviour.received
        if not items:
            return "nothing"
        shown = ", ".join(repr(item) for item in items[:10])
        more = f" … and {len(items) - 10} more" if len(items) > 10 else ""
        return f"[{shown}{more}]"

    def __repr__(self) -> str:
        return f"<Probe {self.pid}>"


def _noop(_process: Process) -> None:
    pass


def _check_kind(error: errors.Error | None, kind: str | None, event: Any) -> None:
    if kind is None:
        return
    actual = error.kind() if error is not None else None
    if actual != kind:
        raise AssertionError(f"expected error kind {kind!r}, got {actual!r} in {event!r}")
