"""Registry entries: what a YAML app declares, and how kinds are described.

An entry is ``name`` + ``kind`` + kind-specific fields at the entry root +
optional ``meta``; its ID is ``namespace:name``.  A :class:`KindSpec` tells
the loader what a kind needs (required fields, references to other entries,
whether it carries Lua code), so packages outside ``actors`` describe their
own kinds (``process.service``, ``temporal.worker``, …) with
:func:`register_kind` and ``actors`` never imports them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from actors import errors

__all__ = [
    "CodeBuilder",
    "Entry",
    "KindSpec",
    "Problem",
    "Registry",
    "kind_spec",
    "known_kinds",
    "register_code_builder",
    "register_kind",
    "resolve_ref",
]


@dataclass(frozen=True)
class Problem:
    """One mistake in an app: where it is and what is wrong."""

    file: str
    line: int
    entry_id: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}"
        return f"{where}: {self.entry_id}: {self.message}" if self.entry_id else f"{where}: {self.message}"


@dataclass
class Entry:
    """One registry entry, with where it was declared."""

    id: str
    namespace: str
    name: str
    kind: str
    data: dict[str, Any]
    meta: dict[str, Any]
    file: Path
    line: int
    source_text: str | None = None
    source_name: str | None = None

    def get(self, key: str, default: Any = None) -> Any:
        """A kind-specific field (``a.b`` walks nested mappings)."""
        value: Any = self.data
        for part in key.split("."):
            if not isinstance(value, Mapping) or part not in value:
                return default
            value = value[part]
        return value

    def meta_get(self, key: str, default: Any = None) -> Any:
        value: Any = self.meta
        for part in key.split("."):
            if not isinstance(value, Mapping) or part not in value:
                return default
            value = value[part]
        return value

    def ref(self, value: str) -> str:
        """Resolve a reference written in this entry (bare names are in this namespace)."""
        return resolve_ref(value, self.namespace)

    @property
    def method(self) -> str:
        return str(self.data.get("method") or "main")

    @property
    def modules(self) -> tuple[str, ...]:
        return tuple(self.data.get("modules") or ())

    def lua_code(self) -> Any:
        """What the Lua drivers need to run this entry (made once per entry).

        Built by the code builder the Lua layer registers (``actors.lua.process``
        registers ``LuaCode``): the model describes the code, it does not run it.
        """
        code = self.__dict__.get("_lua_code")
        if code is None:
            code = self.__dict__["_lua_code"] = self._make_lua_code()
        return code

    def _make_lua_code(self) -> Any:
        if self.source_text is None:
            raise errors.Error(errors.INVALID, f"entry {self.id} has no Lua source")
        if _code_builder is None:
            raise errors.Error(errors.UNAVAILABLE, f"entry {self.id}: no Lua runtime is loaded")
        return _code_builder(
            entry_id=self.id,
            source=self.source_text,
            chunkname=self.source_name or self.id,
            method=self.method,
            modules=self.modules,
            memory_limit=self.data.get("memory_limit"),
            meta=dict(self.meta),
        )

    def where(self) -> str:
        return f"{self.file}:{self.line}"


@dataclass(frozen=True)
class KindSpec:
    """What the loader checks for entries of one kind."""

    kind: str
    required: tuple[str, ...] = ()
    references: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """Field (``a.b`` for nested, ``meta.a.b`` in meta) → kinds the referenced entry may have."""
    code: bool = False
    """The entry carries Lua code in ``source``."""
    check: Callable[[Entry, Registry], list[str]] | None = None
    """Extra checks; returns messages for whatever is wrong."""
    description: str = ""


_KINDS: dict[str, KindSpec] = {}

CodeBuilder = Callable[..., Any]
"""``builder(entry_id=, source=, chunkname=, method=, modules=, memory_limit=, meta=)``:
the runnable code of an entry (``actors.lua.process.LuaCode``)."""

_code_builder: CodeBuilder | None = None


def register_code_builder(builder: CodeBuilder) -> None:
    """How :meth:`Entry.lua_code` builds code: the Lua layer registers it on import."""
    global _code_builder
    _code_builder = builder


def register_kind(spec: KindSpec) -> None:
    """Teach the loader a kind (idempotent for the same spec)."""
    _KINDS[spec.kind] = spec


def kind_spec(kind: str) -> KindSpec | None:
    return _KINDS.get(kind)


def known_kinds() -> list[str]:
    return sorted(_KINDS)


def resolve_ref(value: str, namespace: str) -> str:
    """``name`` → ``namespace:name``; ``ns:name`` stays (the split is at the first colon)."""
    return value if ":" in value else f"{namespace}:{value}"


class Registry:
    """The entries of a loaded app, by ID, in declaration order."""

    def __init__(self, root: Path, entries: list[Entry]) -> None:
        self.root = root
        self._entries: dict[str, Entry] = {entry.id: entry for entry in entries}

    def get(self, entry_id: str) -> Entry | None:
        return self._entries.get(entry_id)

    def require(self, entry_id: str) -> Entry:
        entry = self._entries.get(entry_id)
        if entry is None:
            raise errors.Error(errors.NOT_FOUND, f"entry {entry_id!r} not found")
        return entry

    def of_kind(self, *kinds: str) -> list[Entry]:
        return [entry for entry in self._entries.values() if entry.kind in kinds]

    def __iter__(self) -> Iterator[Entry]:
        return iter(self._entries.values())

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, entry_id: object) -> bool:
        return entry_id in self._entries
