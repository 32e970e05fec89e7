"""YAML registry entries: the model, the loader, and the kinds ``actors`` knows.

``actors`` itself knows the process-side kinds (``process.lua``,
``function.lua``, ``library.lua``, ``process.host``); other packages add theirs
with :func:`register_kind`.

The model imports nothing of the Lua layer; the loader does (it checks Lua
code and turns libraries into Lua modules), so :func:`load_app`,
:class:`AppLoadError` and :data:`DEFAULT_NAMESPACE` are imported from it when
first asked for: a package that only describes kinds does not load Lua.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from actors import errors
from actors.durations import duration_seconds
from actors.entries.model import (
    Entry,
    KindSpec,
    Problem,
    Registry,
    kind_spec,
    known_kinds,
    register_kind,
    resolve_ref,
)
from actors.limits import YAML_FIELDS as LIMIT_FIELDS
from actors.limits import limits_from_config

__all__ = [
    "DEFAULT_NAMESPACE",
    "AppLoadError",
    "Entry",
    "KindSpec",
    "Problem",
    "Registry",
    "check_lifecycle",
    "kind_spec",
    "known_kinds",
    "load_app",
    "register_kind",
    "resolve_ref",
]

if TYPE_CHECKING:
    from actors.entries.loader import DEFAULT_NAMESPACE, AppLoadError, load_app

_FROM_THE_LOADER = frozenset({"DEFAULT_NAMESPACE", "AppLoadError", "load_app"})


def __getattr__(name: str) -> Any:
    """The loader's names, imported when first used (the loader uses the Lua layer)."""
    if name in _FROM_THE_LOADER:
        from actors.entries import loader

        return getattr(loader, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def check_lifecycle(entry: Entry, registry: Registry) -> list[str]:
    """Problems in an entry's ``lifecycle`` block (shared by every supervised kind)."""
    lifecycle: Any = entry.data.get("lifecycle")
    if lifecycle is None:
        return []
    if not isinstance(lifecycle, dict):
        return ["'lifecycle' must be a mapping"]
    messages = []
    if "auto_start" in lifecycle and not isinstance(lifecycle["auto_start"], bool):
        messages.append("lifecycle.auto_start must be true or false")
    for key in ("start_timeout", "stop_timeout", "stable_threshold"):
        if key in lifecycle:
            try:
                duration_seconds(lifecycle[key], what=f"lifecycle.{key}")
            except Exception as exc:  # an Error with the detail
                messages.append(str(exc))
    for key in ("requires", "depends_on"):
        value = lifecycle.get(key)
        if value is None:
            continue
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            messages.append(f"lifecycle.{key} must be a list of entry IDs")
            continue
        for item in value:
            if entry.ref(item) not in registry:
                messages.append(f"lifecycle.{key} references unknown entry {entry.ref(item)!r}")
    restart = lifecycle.get("restart")
    if restart is not None:
        if not isinstance(restart, dict):
            messages.append("lifecycle.restart must be a mapping")
        else:
            for key in ("initial_delay", "max_delay"):
                if key in restart:
                    try:
                        duration_seconds(restart[key], what=f"lifecycle.restart.{key}")
                    except Exception as exc:
                        messages.append(str(exc))
            for key in ("backoff_factor", "jitter"):
                if key in restart and (
                    isinstance(restart[key], bool) or not isinstance(restart[key], (int, float))
                ):
                    messages.append(f"lifecycle.restart.{key} must be a number")
            attempts = restart.get("max_attempts")
            if attempts is not None and (
                isinstance(attempts, bool) or not isinstance(attempts, int) or attempts < 0
            ):
                messages.append("lifecycle.restart.max_attempts must be a non-negative integer")
    return messages


_HOST_QUEUES_REFUSED = (
    "is not supported: actorflow's process host has no bounded run queue to size (a process waits "
    "in it once, however many messages its own mailbox holds)"
)


_HOST_SETTINGS = ("workers", "lua_threads", *LIMIT_FIELDS)
_HOST_SETTINGS_TEXT = ", ".join(_HOST_SETTINGS)


def _check_host(entry: Entry, registry: Registry) -> list[str]:
    """``host.workers``, ``lua_threads`` and the limits work; any other host setting is refused, with why."""
    messages = check_lifecycle(entry, registry)
    lifecycle = entry.data.get("lifecycle")
    if isinstance(lifecycle, dict):
        messages.extend(
            f"lifecycle.{key} is not supported on a process.host: hosts start first, once, and "
            "stop with the app; a process.host honours auto_start: true"
            for key, value in lifecycle.items()
            if not (key == "auto_start" and value is True)
        )
    messages.extend(
        f"{key!r} is not a process.host setting (host, lifecycle)"
        for key in entry.data
        if key not in ("host", "lifecycle")
    )
    host = entry.data.get("host")
    if host is None:
        return messages
    if not isinstance(host, dict):
        return [*messages, f"'host' must be a mapping ({_HOST_SETTINGS_TEXT})"]
    for key in ("workers", "lua_threads"):
        value = host.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            messages.append(f"host.{key} must be a positive integer")
    for key in host:
        if key in ("queue_size", "local_queue_size"):
            messages.append(f"host.{key} {_HOST_QUEUES_REFUSED}")
        elif key not in _HOST_SETTINGS:
            messages.append(f"host.{key} is not a process.host setting ({_HOST_SETTINGS_TEXT})")
    try:  # the limits (actors.limits): max_processes, max_mailbox_bytes, …
        limits_from_config(host)
    except errors.Error as err:
        messages.append(f"host.{err.message()}")
    return messages


register_kind(KindSpec("function.lua", code=True, description="a Lua function (funcs.call target)"))
register_kind(KindSpec("process.lua", code=True, description="a Lua process run on a process.host"))
register_kind(KindSpec("library.lua", code=True, description="shared Lua code"))
register_kind(KindSpec("process.host", check=_check_host, description="a pool of workers running processes"))
