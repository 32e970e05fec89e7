"""What a Lua operation does outside its program: the only part that differs per driver.

Every Lua operation is written once, in :class:`~actors.lua.core.LuaCore`:
argument checks, conversions, results, and the bookkeeping of timers,
futures, options and context.  What the operation *does* to the world is
asked of the driver's :class:`Effects`:

=====================  ==========================  ================================
effect                 Lua process (LuaProcess)    Lua workflow (LuaWorkflow)
=====================  ==========================  ================================
clock                  the wall clock              the workflow clock
randomness             the OS's                    recorded (``workflow.random()``)
timers                 the node's timer thread     durable timers
sends and signals      the node (local mailboxes)  signals, or a relay activity
spawns                 a host's ``spawn``          child workflows
calls                  a function process          activities
links, monitors,       the node                    unsupported (``INVALID``)
names
=====================  ==========================  ================================

An effect that completes later is given ``done``: it calls ``done(*values)``
(the operation's Lua results) *in the program's own context* (a process's
slice, the workflow's event loop), and returns ``None`` meanwhile.  When
``done`` is ``None`` (no coroutine to wake: the operation was asked for
outside one) an effect that would have to wait returns ``None`` at once
without doing anything.  An :class:`~actors.errors.Error` raised by an
effect is the operation's ``nil, err``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any, Protocol

__all__ = ["Done", "Effects", "ImmediateEffects", "WorkflowEffects"]

Done = Callable[..., None]
"""``done(*values)``: an operation that completed later, with its Lua results."""

Values = tuple[Any, ...]


class Effects(Protocol):
    """The outside world of one Lua program, as its driver provides it."""

    in_workflow: bool
    """True in a workflow: operations must be deterministic (see :class:`WorkflowEffects`)."""

    # -- who is running ------------------------------------------------------------------------

    def pid_text(self) -> str:
        """The program's PID as text."""
        ...

    @property
    def context(self) -> Mapping[str, Any] | None:
        """The context values the program inherited (``ctx.get``)."""
        ...

    trap_links: bool
    """``process.get_options().trap_links``; settable."""

    @property
    def node(self) -> Any:
        """The :class:`~actors.Node` a process runs on; ``None`` in a workflow."""
        ...

    # -- clock, randomness, wake-ups ----------------------------------------------------------------

    def now_ns(self) -> int:
        """Nanoseconds since 1970."""
        ...

    def uniform(self) -> float:
        """A random float in [0, 1) (``math.random``)."""
        ...

    def random_bits(self, count: int) -> int:
        """A random integer of ``count`` bits (UUIDs)."""
        ...

    def random_bytes(self, count: int) -> bytes:
        """``count`` random bytes (``crypto.random_bytes``)."""
        ...

    def start_timer(self, seconds: float, fire: Callable[[], Any], repeat: bool) -> Any:
        """Call ``fire()`` in the program's context after ``seconds`` (and every ``seconds``
        after that with ``repeat``); returns a handle for :meth:`stop_timer`.  A ticker may
        pause while ``fire()`` returns ``False`` (nobody took its ticks) until its handle's
        ``resume()``, if it has one, is called."""
        ...

    def stop_timer(self, handle: Any) -> bool:
        """Stop a timer; True if it was still going to fire."""
        ...

    def post(self, action: Callable[[], None]) -> None:
        """Run ``action()`` in the program's context (a process: from any thread)."""
        ...

    def terminated(self) -> bool:
        """Asked by the Lua watchdog while Lua code runs: must the program end now?"""
        ...

    # -- messages and signals --------------------------------------------------------------------------

    def send(self, dest: str, topic: str, payloads: Values, done: Done | None) -> Values | None: ...

    def terminate(self, dest: str, done: Done | None) -> Values | None: ...

    def cancel(self, dest: str, deadline: float | None, reason: str, done: Done | None) -> Values | None:
        """``deadline``: seconds until the target is terminated, if any."""
        ...

    def monitor(self, dest: str) -> None: ...

    def unmonitor(self, dest: str) -> None: ...

    def link(self, dest: str) -> None: ...

    def unlink(self, dest: str) -> None: ...

    def register(self, name: str, pid: str | None, scope: str, done: Done | None) -> Values | None:
        """``(True,)``; a cluster scope may wait (``done(True)`` or ``done(None, err)``).
        ``scope`` is one of ``actors.names.SCOPES``."""
        ...

    def lookup(self, name: str) -> str: ...

    def unregister(self, name: str, scope: str, done: Done | None) -> Values | None:
        """``(removed,)``; a cluster scope may wait, as :meth:`register`."""
        ...

    # -- spawns and calls ---------------------------------------------------------------------------------

    def spawn(
        self, entry_id: str, host: str, spec: Any, payloads: Values, done: Done | None
    ) -> Values | None:
        """``spec``: the spawner's table (link, monitor, name, context, options, messages) or ``None``."""
        ...

    def exec(self, entry_id: str, host: str | None, spec: Any, payloads: Values, done: Done) -> Values | None:
        """Run ``entry_id`` to its end; ``done(value, error)``.  ``host`` ``None``: a workflow's own worker."""
        ...

    def upgrade(self, entry_id: str | None, payloads: Values) -> None:
        """Replace the running code (does not return when it succeeds)."""
        ...

    def call(
        self, target: str, executor: dict[str, Any], payloads: Values, done: Done
    ) -> Callable[[], None] | None:
        """Call function ``target``; ``done(value, error)`` when it returns.

        ``executor``: the executor's table (context, options).  Returns a
        function that cancels the call, or ``None`` when it cannot be canceled.
        """
        ...

    # -- logs ---------------------------------------------------------------------------------------------

    def logger(self, entry_id: str, name: str) -> logging.Logger | logging.LoggerAdapter[Any]:
        """Where a Lua ``logger`` call (of logger ``name``) writes."""
        ...


class WorkflowEffects(Effects, Protocol):
    """The workflow module's operations (``in_workflow``: outside one, LuaCore answers as the spec says)."""

    def workflow_info(self) -> dict[str, Any]: ...

    def workflow_version(self, change_id: str, low: int, high: int) -> int: ...

    def workflow_attrs(self, search: Any, memo: Any) -> None: ...

    def workflow_history(self, what: str) -> int: ...


class ImmediateEffects(Effects, Protocol):
    """What ``LuaCore.immediate`` needs (process states): operations done without a yield."""

    def send_now(self, dest: Any, topic: Any, count: int, *packed: Any) -> Values | None:
        """``process.send`` with its Lua arguments: its Lua results, or ``None`` to yield it."""
        ...

    def spawn_now(self, entry_id: Any, host_id: Any, spec: Any, count: int, *packed: Any) -> Values | None:
        """``process.spawn`` with its Lua arguments: its Lua results, or ``None`` to yield it."""
        ...

    def waits_on_io(self, name: str, args: Values) -> bool:
        """True when operation ``name`` would wait on I/O: it is yielded, not done inside Lua."""
        ...
