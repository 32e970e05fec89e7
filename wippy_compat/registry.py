"""The ``registry`` module (``en/lua/core/registry.md``) and the ``registry.entry`` kind.

Lua reads the app's entries as Wippy shows them (``{id, kind, meta, data}``):
``registry.get``, ``registry.find`` with Wippy's selectors (``.kind``,
``.ns``, ``.name``, ``.id``, ``meta.<field>`` and its ``~ * ^ $`` forms for
regex, contains, prefix, suffix), ``registry.parse_id``, snapshots of a
version, versions and history, and changesets: ``snap:changes()``, then
``create``/``update``/``delete`` and ``apply()``, which validates the new
entries as the loader does and makes a new version; ``apply_version`` goes
back to an earlier one.

What may change while the app runs is code and data: ``function.lua``,
``process.lua``, ``library.lua`` and ``registry.entry`` entries (a new
version is seen by the next spawn or call; running processes keep their
code).  Entries that start something when the app starts (hosts, databases,
queues, services, workflows…) are refused with ``INVALID``: restart the app
to change them.  The history keeps the last :data:`MAX_VERSIONS` versions.
"""

from __future__ import annotations

import datetime
import re
import threading
from importlib import resources
from pathlib import Path
from typing import Any

from actors import errors
from actors.entries import Entry, KindSpec, Registry, register_kind
from actors.entries.imports import IMPORTS_MARKER, RESERVED_PREFIX, import_problems
from actors.entries.loader import AppLoadError, entry_problems, make_entry
from actors.lua import Caller, register_module
from actors.lua.libraries import wire_imports
from wippy_compat._context import AppResources, resources_of

__all__ = ["CHANGEABLE_KINDS", "MAX_VERSIONS", "Versions", "entry_table", "versions_of"]

MAX_VERSIONS = 100
"""How many registry versions the history keeps."""
MAX_CHANGES = 1000
"""The most operations one changeset applies."""
CHANGEABLE_KINDS = frozenset({"function.lua", "process.lua", "library.lua", "registry.entry"})
"""The kinds a changeset may create, update or delete while the app runs."""


def _plain(value: Any) -> Any:
    """Entry data as Lua can hold it (dates as ISO text)."""
    if isinstance(value, dict):
        return {
            str(key) if not isinstance(key, (str, int)) else key: _plain(item) for key, item in value.items()
        }
    if isinstance(value, list):
        return [_plain(item) for item in value]
    if isinstance(value, (datetime.date, datetime.datetime)):
        return value.isoformat()
    return value


def entry_table(entry: Entry) -> dict[str, Any]:
    """An entry as Wippy's registry gives it: ``{id, kind, meta, data}``."""
    data = dict(entry.data)
    modules = data.get("modules")
    if isinstance(modules, list):  # the loader's import markers are not the user's
        own = []
        for name in modules:
            if isinstance(name, str) and name.startswith(IMPORTS_MARKER):
                break
            own.append(name)
        data["modules"] = own
    return {"id": entry.id, "kind": entry.kind, "meta": _plain(entry.meta), "data": _plain(data)}


# -- selectors -------------------------------------------------------------------------------------


def _field(entry: Entry, name: str) -> Any:
    if name == ".kind":
        return entry.kind
    if name == ".ns":
        return entry.namespace
    if name == ".name":
        return entry.name
    if name == ".id":
        return entry.id
    if name.startswith("meta."):
        return entry.meta_get(name[len("meta.") :])
    return None


def _selectors(filter_: Any) -> list[tuple[str, str, Any]]:
    """``(operator, field, value)`` for every selector of a filter table."""
    if not isinstance(filter_, dict):
        raise errors.Error(errors.INVALID, "registry.find: the filter must be a table")
    selectors = []
    for key, value in filter_.items():
        key = str(key)
        if key == "meta" and isinstance(value, dict):  # deprecated nested form
            selectors.extend(("=", f"meta.{inner}", item) for inner, item in value.items())
            continue
        operator = "="
        if key[:1] in ("~", "*", "^", "$"):
            operator, key = key[0], key[1:]
        if key in ("kind", "ns", "namespace", "name", "id"):  # deprecated bare forms
            key = ".ns" if key == "namespace" else f".{key}"
        elif not key.startswith(".") and not key.startswith("meta."):
            key = f"meta.{key}"
        selectors.append((operator, key, value))
    return selectors


def _scalar_text(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def _matches(entry: Entry, selectors: list[tuple[str, str, Any]]) -> bool:
    for operator, name, wanted in selectors:
        actual = _field(entry, name)
        if operator == "=":
            if isinstance(actual, list) and not isinstance(wanted, list):
                found = wanted in actual
            elif actual is None or isinstance(actual, dict):
                found = actual == wanted
            else:
                found = actual == wanted or _scalar_text(actual) == _scalar_text(wanted)
            if not found:
                return False
            continue
        if actual is None:
            return False
        text, pattern = str(actual), str(wanted)
        if operator == "~":
            try:
                if re.search(pattern, text) is None:
                    return False
            except re.error:
                raise errors.Error(errors.INVALID, f"registry.find: invalid regex {pattern!r}") from None
        elif (
            (operator == "*" and pattern not in text)
            or (operator == "^" and not text.startswith(pattern))
            or (operator == "$" and not text.endswith(pattern))
        ):
            return False
    return True


# -- versions --------------------------------------------------------------------------------------


class Versions:
    """The app's registry versions: version 1 is the loaded app; ``apply`` makes the next."""

    def __init__(self, resources: AppResources) -> None:
        self.app = resources.app
        self._lock = threading.Lock()
        self._versions: dict[int, Registry] = {1: resources.registry}
        self.current = 1
        self._next = 2

    def registry(self, version: int | None = None) -> Registry:
        with self._lock:
            number = self.current if version is None else version
            found = self._versions.get(number)
        if found is None:
            raise errors.Error(errors.NOT_FOUND, f"registry version {number} not found")
        return found

    def numbers(self) -> list[int]:
        with self._lock:
            return sorted(self._versions)

    def _install(self, registry: Registry) -> None:
        """Make ``registry`` the one spawns and calls use (under the lock)."""
        self.app.registry = registry
        self.app.node.kinds.entries = registry

    def apply(self, base: int, operations: Any) -> int:
        if not isinstance(operations, list) or not operations:
            raise errors.Error(errors.INVALID, "changes:apply: no changes to apply")
        if len(operations) > MAX_CHANGES:
            raise errors.Error(errors.LIMIT_EXCEEDED, f"changes:apply: more than {MAX_CHANGES} operations")
        with self._lock:
            if base != self.current:
                raise errors.Error(
                    errors.CONFLICT,
                    f"changes:apply: the snapshot is of version {base}, the registry is at {self.current}",
                    retryable=True,
                )
            current = self._versions[self.current]
            entries = {entry.id: entry for entry in current}
            touched: list[Entry] = []
            for operation in operations:
                self._change(entries, operation, current.root, touched)
            registry = Registry(current.root, list(entries.values()))
            self._validate(touched, registry)
            number = self._next
            self._next += 1
            self._versions[number] = registry
            self.current = number
            for old in sorted(self._versions)[:-MAX_VERSIONS]:
                del self._versions[old]
            self._install(registry)
            return number

    def apply_version(self, number: int) -> bool:
        with self._lock:
            registry = self._versions.get(number)
            if registry is None:
                raise errors.Error(errors.NOT_FOUND, f"registry version {number} not found")
            self.current = number
            self._install(registry)
        return True

    def _change(self, entries: dict[str, Entry], operation: Any, root: Path, touched: list[Entry]) -> None:
        if not isinstance(operation, dict) or operation.get("kind") not in (
            "entry.create",
            "entry.update",
            "entry.delete",
        ):
            raise errors.Error(
                errors.INVALID, "changes: each operation is {kind = entry.create|update|delete, entry}"
            )
        kind = operation["kind"]
        item = operation.get("entry")
        if kind == "entry.delete":
            entry_id = item.get("id") if isinstance(item, dict) else item
            if not isinstance(entry_id, str) or entry_id not in entries:
                raise errors.Error(errors.NOT_FOUND, f"changes: cannot delete {entry_id!r}: no such entry")
            self._changeable(entries[entry_id].kind, entry_id)
            del entries[entry_id]
            return
        if not isinstance(item, dict) or not isinstance(item.get("id"), str) or ":" not in item["id"]:
            raise errors.Error(
                errors.INVALID, "changes: an entry needs an id (namespace:name), a kind, meta and data"
            )
        entry_id = item["id"]
        exists = entry_id in entries
        if kind == "entry.create" and exists:
            raise errors.Error(errors.ALREADY_EXISTS, f"changes: entry {entry_id!r} already exists")
        if kind == "entry.update" and not exists:
            raise errors.Error(errors.NOT_FOUND, f"changes: cannot update {entry_id!r}: no such entry")
        if exists:
            self._changeable(entries[entry_id].kind, entry_id)
        entry = _new_entry(item, root)
        self._changeable(entry.kind, entry_id)
        entries[entry_id] = entry
        touched.append(entry)

    @staticmethod
    def _changeable(kind: str, entry_id: str) -> None:
        if kind not in CHANGEABLE_KINDS:
            raise errors.Error(
                errors.INVALID,
                f"changes: {entry_id} is a {kind}: only {', '.join(sorted(CHANGEABLE_KINDS))} entries "
                "change while the app runs (restart the app for the others)",
            )

    @staticmethod
    def _validate(touched: list[Entry], registry: Registry) -> None:
        problems: list[str] = []
        for entry in touched:
            problems.extend(f"{entry.id}: {message}" for message in entry_problems(entry, registry))
        problems.extend(
            f"{entry.id}: {message}" for entry, message in import_problems(list(registry), registry)
        )
        if problems:
            raise errors.Error(errors.INVALID, "changes: " + "; ".join(problems))
        wire_imports(touched, registry)


def _new_entry(item: dict[str, Any], root: Path) -> Entry:
    """An entry of a changeset, checked as the loader checks a YAML one (inline sources only)."""
    namespace, _, name = item["id"].partition(":")
    data = item.get("data") or {}
    if not isinstance(data, dict):
        raise errors.Error(errors.INVALID, f"changes: {item['id']}: data must be a table")
    source = data.get("source")
    if isinstance(source, str) and source.startswith("file://"):
        raise errors.Error(
            errors.INVALID, f"changes: {item['id']}: a source made at run time is inline Lua, not a file"
        )
    modules = data.get("modules")
    if isinstance(modules, list) and any(
        isinstance(m, str) and m.startswith(RESERVED_PREFIX) for m in modules
    ):
        raise errors.Error(
            errors.INVALID, f"changes: {item['id']}: module names starting with __ are reserved"
        )
    raw = {**data, "name": name, "kind": item.get("kind"), "meta": item.get("meta") or {}}
    try:
        return make_entry(raw, namespace, root / "registry", root)
    except AppLoadError as exc:
        raise errors.Error(
            errors.INVALID, "changes: " + "; ".join(problem.message for problem in exc.problems)
        ) from None


def versions_of(resources: AppResources) -> Versions:
    return resources.part("registry", Versions)


# -- the module ------------------------------------------------------------------------------------


def _registry(caller: Caller, what: str, *args: Any) -> Any:
    versions = versions_of(resources_of(caller))
    if what == "current_version":
        return versions.current
    if what == "versions":
        return versions.numbers()
    if what == "apply":
        base = args[0] if args else None
        if isinstance(base, bool) or not isinstance(base, int):  # a changeset whose _base was overwritten
            raise errors.Error(
                errors.INVALID, "changes:apply: the changeset is not one registry.changes() made"
            )
        return versions.apply(base, args[1] if len(args) > 1 else None)
    if what == "apply_version":
        if isinstance(args[0], bool) or not isinstance(args[0], int):
            raise errors.Error(errors.INVALID, "registry.apply_version: expected a Version")
        return versions.apply_version(args[0])
    if what == "build_delta":
        return _delta(args[0], args[1])
    version = args[0]
    if version is not None and (isinstance(version, bool) or not isinstance(version, int) or version <= 0):
        raise errors.Error(errors.INVALID, "registry: the version ID must be a positive integer")
    registry = versions.registry(version)
    if what == "snapshot":
        return version if version is not None else versions.current
    if what == "get":
        entry_id = args[1]
        if not isinstance(entry_id, str) or not entry_id:
            raise errors.Error(errors.INVALID, "registry.get: expected an entry ID")
        entry = registry.get(entry_id)
        if entry is None:
            raise errors.Error(errors.NOT_FOUND, f"entry {entry_id!r} not found")
        return entry_table(entry)
    if what == "find":
        selectors = _selectors(args[1])
        return [entry_table(entry) for entry in registry if _matches(entry, selectors)]
    if what == "entries":
        return [entry_table(entry) for entry in registry]
    if what == "namespace":
        return [entry_table(entry) for entry in registry if entry.namespace == args[1]]
    raise errors.Error(errors.INVALID, f"registry: no function {what}")


def _delta(before: Any, after: Any) -> list[dict[str, Any]]:
    if not isinstance(before, list) or not isinstance(after, list):
        raise errors.Error(errors.INVALID, "registry.build_delta: expected two lists of entries")
    old = {item.get("id"): item for item in before if isinstance(item, dict)}
    new = {item.get("id"): item for item in after if isinstance(item, dict)}
    operations = [{"kind": "entry.create", "entry": item} for key, item in new.items() if key not in old]
    operations += [
        {"kind": "entry.update", "entry": item}
        for key, item in new.items()
        if key in old and old[key] != item
    ]
    operations += [{"kind": "entry.delete", "entry": item} for key, item in old.items() if key not in new]
    return operations


register_module(
    "registry",
    resources.files(__package__) / "lua" / "registry.lua",
    {"call": _registry},
    in_workflows=False,
)

register_kind(KindSpec("registry.entry", description="an entry that only carries data (meta and fields)"))
