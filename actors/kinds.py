"""Turning a spawn target into a process behaviour.

A target is one of:

* an :class:`actors.Actor` subclass (a pykka actor with a PID);
* an ``async def`` function ``f(process, *args)`` (a Python coroutine process
  with the Lua API's inbox, topics and events);
* an entry ID such as ``"app.workers:handler"``: the node's entry registry
  gives the entry, and the factory registered for the entry's kind (for
  example ``process.lua``) builds the behaviour.

Packages register entry kinds here (``register_kind``) so that ``actors``
never imports them.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from actors import errors
from actors._process import Behaviour, Process
from actors.actor import Actor, actor_behaviour
from actors.coprocess import CoroutineBehaviour
from actors.seam import Behaviours, EntryLookup, SpawnRequest

__all__ = ["BehaviourFactory", "Kinds"]


BehaviourFactory = Callable[[Any, SpawnRequest, Process], tuple[Behaviour, bool]]
"""``factory(entry, request, process) -> (behaviour, wants_dedicated_thread)``."""


class Kinds(Behaviours):
    """The spawnable entry kinds plus the built-in Python targets."""

    def __init__(self) -> None:
        self._factories: dict[str, BehaviourFactory] = {}
        self.entries: EntryLookup | None = None

    def register_kind(self, kind: str, factory: BehaviourFactory) -> None:
        """Make entries of ``kind`` spawnable on a process host."""
        self._factories[kind] = factory

    def make_behaviour(self, request: SpawnRequest, process: Process) -> tuple[Behaviour, str, bool]:
        """Build the behaviour for ``request``: ``(behaviour, entry_id, dedicated_thread)``."""
        target = request.target
        if isinstance(target, str):
            return self._entry_behaviour(target, request, process)
        if isinstance(target, type) and issubclass(target, Actor):
            behaviour, dedicated = actor_behaviour(target, request, process)
            return behaviour, _qualname(target), dedicated
        if inspect.iscoroutinefunction(target):
            return (
                CoroutineBehaviour(target, request.args, request.kwargs or {}),
                _qualname(target),
                bool(request.thread),
            )
        raise errors.Error(
            errors.INVALID,
            f"cannot spawn {target!r}: expected an entry ID, an actors.Actor subclass or an async function",
        )

    def _entry_behaviour(
        self, entry_id: str, request: SpawnRequest, process: Process
    ) -> tuple[Behaviour, str, bool]:
        if self.entries is None:
            raise errors.Error(errors.NOT_FOUND, f"entry {entry_id!r} not found: no app is loaded")
        entry = self.entries.get(entry_id)
        if entry is None:
            raise errors.Error(errors.NOT_FOUND, f"entry {entry_id!r} not found")
        factory = self._factories.get(entry.kind)
        if factory is None:
            raise errors.Error(
                errors.INVALID,
                f"entry {entry_id!r} of kind {entry.kind!r} cannot be spawned on a process host",
            )
        behaviour, dedicated = factory(entry, request, process)
        return behaviour, entry_id, dedicated or bool(request.thread)


def _qualname(target: Any) -> str:
    return f"{target.__module__}.{target.__qualname__}"
