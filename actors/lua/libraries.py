"""Library entries as Lua modules: how ``require("alias")`` reaches a ``library.lua``.

The loader checks imports without Lua (:mod:`actors.entries.imports`), then
hands them to Lua here, through the entry's modules list, the one list a Lua
state sees for an entry (:func:`wire_imports`):

* every library becomes a registered Lua module ``__lib_<digest>`` whose
  table holds the library's source, chunk name, own modules and own imports
  (alias → library module); the digest covers all of them, so a changed
  library is a new module and the same library is registered once;
* the entry's list becomes ``[its modules…, "__imp_<digest>", loaded…]``:
  the marker module ``__imp_<digest>`` maps the entry's aliases to library
  modules, and the names after it (the libraries and every module they use)
  are loaded into the Lua state without being granted to the entry: the
  prelude's ``require`` grants only the names before the marker.

A library's module is allowed in workflows when every module it (and every
library it imports) uses is; the marker always is.  Packages ship libraries
an app imports without declaring them with :func:`register_library`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from actors.entries.imports import IMPORTS_MARKER, LIBRARY_KIND, LIBRARY_PREFIX, RESERVED_PREFIX, imports_of
from actors.entries.model import Entry, Registry
from actors.lua import modules as lua_modules
from actors.lua.typed import erase_types

__all__ = ["builtin_libraries_for", "register_library", "wire_imports"]


@dataclass(frozen=True)
class _Builtin:
    source: str
    modules: tuple[str, ...]
    imports: dict[str, str]
    chunkname: str


_BUILTINS: dict[str, _Builtin] = {}


def register_library(
    entry_id: str,
    source: str,
    *,
    modules: tuple[str, ...] = (),
    imports: dict[str, str] | None = None,
    chunkname: str | None = None,
) -> None:
    """Ship a ``library.lua`` entry with a package (e.g. Wippy's ``wippy.migration:migration``).

    An app that imports ``entry_id`` without declaring it gets this one, as
    if its YAML declared it; an app that declares the ID keeps its own.
    """
    if ":" not in entry_id:
        raise ValueError(f"a library ID is namespace:name, got {entry_id!r}")
    _BUILTINS[entry_id] = _Builtin(source, tuple(modules), dict(imports or {}), chunkname or entry_id)


def builtin_libraries_for(entries: list[Entry], declared: set[str]) -> list[Entry]:
    """The shipped libraries ``entries`` import (transitively) that the app does not declare."""
    added: list[Entry] = []
    pending = [target for entry in entries for target in imports_of(entry).values()]
    while pending:
        target = pending.pop()
        builtin = _BUILTINS.get(target)
        if builtin is None or target in declared:
            continue
        declared.add(target)
        namespace, _, name = target.partition(":")
        entry = Entry(
            target,
            namespace,
            name,
            LIBRARY_KIND,
            {
                "source": f"builtin://{target}",
                "modules": list(builtin.modules),
                "imports": dict(builtin.imports),
            },
            {},
            Path(builtin.chunkname),
            1,
            source_text=erase_types(builtin.source, builtin.chunkname),
            source_name=builtin.chunkname,
        )
        added.append(entry)
        pending.extend(imports_of(entry).values())
    return added


def wire_imports(entries: list[Entry], registry: Registry) -> None:
    """Register the library modules and rewrite the modules list of every importing entry.

    Call only once :func:`import_problems` found nothing: imports resolve and
    form no cycle.
    """
    digests: dict[str, str] = {}
    for entry in entries:
        imports = imports_of(entry)
        if not imports or entry.kind == LIBRARY_KIND or entry.source_text is None:
            continue  # a library is never run itself: only what imports it is wired
        aliases = {
            alias: _library_module(registry.require(target), registry, digests)
            for alias, target in imports.items()
        }
        closure: list[str] = []
        loaded: list[str] = []
        _closure(entry, registry, closure, loaded, set(), digests)
        own = list(entry.modules)
        marker = IMPORTS_MARKER + _digest(repr(sorted(aliases.items())))
        _register(marker, _lua_table({"imports": aliases}), in_workflows=True)
        extra = [name for name in dict.fromkeys([*closure, *loaded]) if name not in own]
        entry.data["modules"] = [*own, marker, *extra]
        entry.__dict__.pop("_lua_code", None)  # made from the modules list: make it again


def _closure(
    entry: Entry,
    registry: Registry,
    libraries: list[str],
    loaded: list[str],
    seen: set[str],
    digests: dict[str, str],
) -> None:
    """The library modules ``entry`` imports, transitively, and every module they use."""
    for target_id in imports_of(entry).values():
        if target_id in seen:
            continue
        seen.add(target_id)
        library = registry.require(target_id)
        libraries.append(_library_module(library, registry, digests))
        loaded.extend(name for name in library.modules if not name.startswith(RESERVED_PREFIX))
        _closure(library, registry, libraries, loaded, seen, digests)


def _library_module(library: Entry, registry: Registry, digests: dict[str, str]) -> str:
    """The registered module of ``library`` (registered on first use)."""
    cached = digests.get(library.id)
    if cached is not None:
        return cached
    imports = {
        alias: _library_module(registry.require(target), registry, digests)
        for alias, target in imports_of(library).items()
    }
    grants = [name for name in library.modules if not name.startswith(RESERVED_PREFIX)]
    spec = {
        "id": library.id,
        "chunk": library.source_name or library.id,
        "source": library.source_text or "",
        "grants": grants,
        "imports": imports,
    }
    name = LIBRARY_PREFIX + _digest(repr(sorted(spec.items(), key=lambda item: item[0])))
    _register(name, _lua_table(spec), in_workflows=_deterministic(library, registry, set()))
    digests[library.id] = name
    return name


def _deterministic(library: Entry, registry: Registry, seen: set[str]) -> bool:
    """True when every module ``library`` and its imports use may run in a workflow."""
    if library.id in seen:
        return True
    seen.add(library.id)
    for name in library.modules:
        if name in lua_modules.BUILTIN_MODULES:
            continue
        module = lua_modules.registered_module(name)
        if module is None or not module.in_workflows:
            return False
    return all(
        _deterministic(registry.require(target), registry, seen) for target in imports_of(library).values()
    )


def _register(name: str, source: str, *, in_workflows: bool) -> None:
    existing = lua_modules.registered_module(name)
    if existing is not None and existing.source == source and existing.in_workflows == in_workflows:
        return
    lua_modules.register_module(name, source, {}, in_workflows=in_workflows, replace=True)


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def _lua_table(value: dict[str, Any]) -> str:
    """Lua source returning ``value`` (strings, lists and string-keyed dicts of them)."""
    return "return " + _lua_value(value) + "\n"


def _lua_value(value: Any) -> str:
    if isinstance(value, str):
        return _long_string(value)
    if isinstance(value, list):
        return "{" + ", ".join(_lua_value(item) for item in value) + "}"
    if isinstance(value, dict):
        return (
            "{"
            + ", ".join(f"[ {_long_string(key)} ] = {_lua_value(item)}" for key, item in value.items())
            + "}"
        )
    raise TypeError(f"cannot write {type(value).__name__} as Lua")


def _long_string(text: str) -> str:
    """A Lua long string holding ``text`` exactly (its level chosen so nothing in it closes it)."""
    level = 0
    while f"]{'=' * level}]" in text + "]":
        level += 1
    equals = "=" * level
    return f"[{equals}[\n{text}]{equals}]"  # the newline after the opening bracket is skipped
