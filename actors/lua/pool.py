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

The memory cap of a shared state is the cap of the group: the process whose
allocation crosses it is the one that fails (``LIMIT_EXCEEDED``), and the
state is collected when it leaves.  An entry with ``memory_limit`` gets a
state of its own with exactly that cap.
"""

from __future__ import annotations

import threading
from collections.abc import Hashable

from actors.lua.runtime import LuaState

__all__ = ["COLLECT_EVERY", "SHARED_STATE_MEMORY", "StatePool"]

SHARED_STATE_MEMORY = 512 * 1024 * 1024

COLLECT_EVERY = 250
"""A state is collected after this many of its processes have ended.

What an ended process leaves in Lua (its environment, coroutines, the Lua side
of its channels) is garbage Lua's collector paces by Lua's own allocations;
the Python objects that garbage refers to (channels) are not counted there, so
without a full collection now and then they would pile up while Lua sees no
reason to collect.
"""


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
        self._lock = threading.Lock()

    def acquire(self, lane: Hashable = None) -> LuaState:
        """A state of ``lane`` with room for one more process (the next one round-robin)."""
        with self._lock:
            group = self._lanes.get(lane)
            if group is None:
                group = self._lanes[lane] = _Lane()
            states = group.states
            if len(states) < self.spread:
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
            return state

    def release(self, state: LuaState, *, collect: bool = False) -> None:
        """A process left ``state`` (``collect`` after it ran out of memory).

        A state over half its cap is collected too: Lua does not collect
        before failing an allocation at the cap (lupa's allocator), so the
        garbage of processes that have ended would count against the next.
        So is a state every :data:`COLLECT_EVERY` exits.
        """
        key = id(state)
        with self._lock:
            state.users -= 1
            exits = self._exits.get(key, 0) + 1
            if exits >= COLLECT_EVERY:
                exits = 0
                collect = True
            self._exits[key] = exits
        if collect or (state.max_memory and state.memory_used() > state.max_memory // 2):
            state.collect()

    def states(self) -> int:
        with self._lock:
            return sum(len(group.states) for group in self._lanes.values())


class _Lane:
    """The states of one lane and where its round robin is."""

    __slots__ = ("next", "states")

    def __init__(self) -> None:
        self.states: list[LuaState] = []
        self.next = 0
