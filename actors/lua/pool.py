"""Shared Lua states for the Lua processes of a node.

A Lua state costs about 140 KB and close to a millisecond to prepare; a Lua
process in a shared state costs a few KB and microseconds (its own
environment, a coroutine, views of the libraries).  Processes are packed
into states of up to ``per_state`` processes.  The prelude guarantees that
processes sharing a state cannot see or change each other's globals or the
libraries (see ``prelude.lua``).

States belong to a *lane*: a host runs Lua processes on a few lane threads
(``ProcessHost.lua_threads``) and a process stays on its lane's thread, so
giving each lane states of its own means a state is only ever used by one
thread: no thread waits for another to leave a state, and nothing hands the
GIL over between two processes of one state.

The memory cap of a shared state is the cap of the group, and the process
that uses the memory is the one that fails, not a neighbour whose next
allocation happens to cross it (issue 12, defect 10): once a state holds more
than :data:`SOFT_CAP` of its cap after a slice of one of its processes and a
full collection, the pool measures what each of its processes reaches
(``LuaState.measure``) and ends the one holding the most with
``LIMIT_EXCEEDED``; the rest of the cap is headroom for the others meanwhile.
A process whose own allocation crosses the cap still fails at once.  An entry
with ``memory_limit`` gets a state of its own with exactly that cap.
"""

from __future__ import annotations

import threading
from collections.abc import Hashable
from typing import Any, Protocol

from actors import errors
from actors.lua.runtime import LuaState

__all__ = ["COLLECT_EVERY", "SHARED_STATE_MEMORY", "SOFT_CAP", "Member", "StatePool"]

SHARED_STATE_MEMORY = 512 * 1024 * 1024

SOFT_CAP = 0.75
"""The share of a shared state's cap past which the process holding the most memory is ended."""

COLLECT_EVERY = 250
"""A state is collected after this many of its processes have ended.

What an ended process leaves in Lua (its environment, coroutines, the Lua side
of its channels) is garbage Lua's collector paces by Lua's own allocations;
the Python objects that garbage refers to (channels) are not counted there, so
without a full collection now and then they would pile up while Lua sees no
reason to collect.
"""


class Member(Protocol):
    """What the pool needs from a process that runs in one of its states (``LuaProcess``)."""

    def lua_roots(self) -> list[Any]:
        """What the process reaches in Lua: its coroutines and the Lua values its channels hold."""
        ...

    def end_for_memory(self, error: errors.Error) -> bool:
        """End the process with ``error``; False when it is ending already."""
        ...


class StatePool:
    """Hands out shared Lua states, ``per_state`` processes each, ``spread`` states per lane.

    ``acquire(lane)`` gives states of that lane only (see the module
    docstring); within a lane, processes are spread round-robin over up to
    ``spread`` states.
    """

    def __init__(
        self, *, per_state: int = 10_000, spread: int = 8, max_memory: int | None = SHARED_STATE_MEMORY
    ) -> None:
        self.per_state = per_state
        self.spread = max(1, spread)
        self.max_memory = max_memory
        self._lanes: dict[Hashable, _Lane] = {}
        self._exits: dict[int, int] = {}
        self._members: dict[int, set[Member]] = {}
        self._ending: dict[int, Member] = {}
        """State → the process ended for holding the most of it, until it has left."""
        self._lock = threading.Lock()

    def acquire(self, lane: Hashable = None, member: Member | None = None) -> LuaState:
        """A state of ``lane`` with room for one more process (the next one round-robin);
        ``member`` is the process, measured when the state runs short of memory.

        A lane with a ``lua_states`` attribute spreads its processes over that many states
        instead of ``spread`` (an HTTP service's handlers: one, kept warm in the CPU's caches).
        """
        with self._lock:
            group = self._lanes.get(lane)
            if group is None:
                group = self._lanes[lane] = _Lane()
            states = group.states
            if len(states) < getattr(lane, "lua_states", self.spread):
                state = LuaState(max_memory=self.max_memory)
                states.append(state)
            else:
                state = None
                for offset in range(len(states)):
                    candidate = states[(group.next + offset) % len(states)]
                    if candidate.users < self.per_state:
                        state = candidate
                        group.next = (group.next + offset + 1) % len(states)
                        break
                if state is None:
                    state = LuaState(max_memory=self.max_memory)
                    states.append(state)
            state.users += 1
            if member is not None:
                self._members.setdefault(id(state), set()).add(member)
            return state

    def release(self, state: LuaState, *, collect: bool = False, member: Member | None = None) -> None:
        """A process left ``state`` (``collect`` after it ran out of memory).

        A state over half its cap is collected too: Lua does not collect
        before failing an allocation at the cap (lupa's allocator), so the
        garbage of processes that have ended would count against the next.
        So is a state every :data:`COLLECT_EVERY` exits.
        """
        key = id(state)
        with self._lock:
            state.users -= 1
            if member is not None:
                members = self._members.get(key)
                if members is not None:
                    members.discard(member)
                if self._ending.get(key) is member:
                    del self._ending[key]
                    collect = True
            exits = self._exits.get(key, 0) + 1
            if exits >= COLLECT_EVERY:
                exits = 0
                collect = True
            self._exits[key] = exits
        if collect or (state.max_memory and state.memory_used() > state.max_memory // 2):
            state.collect()

    def check_memory(self, state: LuaState) -> None:
        """After a slice in ``state``: past :data:`SOFT_CAP` of its cap (garbage collected), end
        the process that holds the most of it.  Called on the state's own thread."""
        cap = state.max_memory
        if not cap or state.memory_used() <= cap * SOFT_CAP:
            return
        key = id(state)
        if key in self._ending:
            return  # the one chosen has not left yet
        state.collect()
        used = state.memory_used()
        if used <= cap * SOFT_CAP:
            return
        with self._lock:
            members = list(self._members.get(key, ()))
        if not members:
            return
        sizes = state.measure([member.lua_roots() for member in members])
        size, victim = max(zip(sizes, members, strict=True), key=lambda pair: pair[0])
        error = errors.Error(
            errors.LIMIT_EXCEEDED,
            f"Lua memory: this process holds about {size / 2**20:.1f} MiB of the {used / 2**20:.1f} MiB its "
            f"shared Lua state uses (cap {cap / 2**20:.0f} MiB), the most of its {len(members)} processes: "
            "ended so that the others keep running",
            retryable=False,
        )
        if victim.end_for_memory(error):
            self._ending[key] = victim

    def states(self) -> int:
        with self._lock:
            return sum(len(group.states) for group in self._lanes.values())


class _Lane:
    """The states of one lane and where its round robin is."""

    __slots__ = ("next", "states")

    def __init__(self) -> None:
        self.states: list[LuaState] = []
        self.next = 0
