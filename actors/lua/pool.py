"""Shared Lua states for the Lua processes of a node.

A Lua state costs about 140 KB and close to a millisecond to prepare; a Lua
process in a shared state costs a few KB and microseconds (its own
environment, a coroutine, views of the libraries).  Processes are packed
into states of up to ``per_state`` processes.  The prelude guarantees that
processes sharing a state cannot see or change each other's globals or the
libraries (see ``prelude.lua``).

The memory cap of a shared state is the cap of the group: the process whose
allocation crosses it is the one that fails (``LIMIT_EXCEEDED``), and the
state is collected when it leaves.  An entry with ``memory_limit`` gets a
state of its own with exactly that cap.
"""

from __future__ import annotations

import threading

from actors.lua.runtime import LuaState

__all__ = ["SHARED_STATE_MEMORY", "StatePool"]

SHARED_STATE_MEMORY = 512 * 1024 * 1024


class StatePool:
    """Hands out shared Lua states, ``per_state`` processes each, spread over ``spread`` states.

    lupa serializes the calls into one Lua state with a lock: two worker
    threads running processes of the same state would take turns (and pay a
    thread switch each time).  Spreading processes round-robin over several
    states keeps the workers on different states most of the time.
    """

    def __init__(
        self, *, per_state: int = 10_000, spread: int = 8, max_memory: int | None = SHARED_STATE_MEMORY
    ) -> None:
        self.per_state = per_state
        self.spread = max(1, spread)
        self.max_memory = max_memory
        self._states: list[LuaState] = []
        self._next = 0
        self._lock = threading.Lock()

    def acquire(self) -> LuaState:
        """A state with room for one more process (the next one round-robin)."""
        with self._lock:
            states = self._states
            if len(states) < self.spread:
                state = LuaState(max_memory=self.max_memory)
                states.append(state)
            else:
                state = None
                for offset in range(len(states)):
                    candidate = states[(self._next + offset) % len(states)]
                    if candidate.users < self.per_state:
                        state = candidate
                        self._next = (self._next + offset + 1) % len(states)
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
        """
        with self._lock:
            state.users -= 1
        if collect or (state.max_memory and state.memory_used() > state.max_memory // 2):
            state.collect()

    def states(self) -> int:
        with self._lock:
            return len(self._states)
