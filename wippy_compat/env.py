"""The ``env`` module and the environment kinds (``en/lua/system/env.md``, ``en/system/env.md``).

Storages hold values: ``env.storage.memory`` (volatile), ``env.storage.file``
(``KEY=VALUE`` lines, ``#`` comments), ``env.storage.os`` (read-only),
``env.storage.static`` (read-only ``values``) and ``env.storage.router``
(reads try its storages in order and keep what they found; writes go to the
first).  An ``env.variable`` names a value in a storage, by its public name
(``variable``) or its entry ID, with a ``default`` and ``readonly``.
``env.get``/``env.set``/``env.get_all`` see only declared variables, as in
Wippy: a process cannot read the OS environment unless a variable grants it.

Each storage is a unit of the app (:mod:`._units`), opened when the app
starts (a missing env file fails the start, not a later ``env.get``), a
router after the storages it routes to.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from actors import errors
from actors.entries import Entry, KindSpec, Registry, check_lifecycle, register_kind
from actors.lua import Caller, register_module
from wippy_compat._context import AppResources, resources_of
from wippy_compat._units import ContextUnit, EntryUnit

if TYPE_CHECKING:
    from actorflow.app import App

__all__ = ["MAX_MEMORY_VALUES", "EnvStorageUnit", "Environment", "env_units", "environment_of"]

MAX_MEMORY_VALUES = 10_000
"""The most keys a memory or file storage holds."""
MAX_VALUE_BYTES = 1024 * 1024
"""The longest value ``env.set`` stores."""

_VARIABLE = re.compile(r"[A-Za-z0-9_]+")
_STORAGES = (
    "env.storage.memory",
    "env.storage.file",
    "env.storage.os",
    "env.storage.static",
    "env.storage.router",
)


class _Storage:
    writable = True

    def get(self, key: str) -> str | None:
        raise NotImplementedError

    def set(self, key: str, value: str) -> None:
        raise errors.Error(errors.PERMISSION_DENIED, "the storage is read-only")


class _Memory(_Storage):
    def __init__(self) -> None:
        self.values: dict[str, str] = {}
        self.lock = threading.Lock()

    def get(self, key: str) -> str | None:
        with self.lock:
            return self.values.get(key)

    def set(self, key: str, value: str) -> None:
        with self.lock:
            if key not in self.values and len(self.values) >= MAX_MEMORY_VALUES:
                raise errors.Error(
                    errors.LIMIT_EXCEEDED, f"the storage holds {MAX_MEMORY_VALUES} values already"
                )
            self.values[key] = value
            self.saved()

    def saved(self) -> None:
        pass


class _File(_Memory):
    """``KEY=VALUE`` lines; written back whole on every set."""

    def __init__(self, path: Path, auto_create: bool, file_mode: int) -> None:
        super().__init__()
        self.path = path
        self.file_mode = file_mode
        if not path.exists():
            if not auto_create:
                raise errors.Error(
                    errors.NOT_FOUND, f"env file {path} does not exist (auto_create: true creates it)"
                )
            path.parent.mkdir(parents=True, exist_ok=True)
            path.touch(mode=file_mode)
        for line in path.read_text(encoding="utf-8").splitlines():
            line = line.split("#", 1)[0].strip()
            if not line or "=" not in line:
                continue
            key, value = line.split("=", 1)
            if len(self.values) < MAX_MEMORY_VALUES:
                self.values[key.strip()] = value.strip()

    def saved(self) -> None:
        text = "".join(f"{key}={value}\n" for key, value in self.values.items())
        temporary = self.path.with_name(self.path.name + ".tmp")
        temporary.write_text(text, encoding="utf-8")
        os.chmod(temporary, self.file_mode)
        temporary.replace(self.path)


class _Os(_Storage):
    writable = False

    def get(self, key: str) -> str | None:
        return os.environ.get(key)


class _Static(_Storage):
    writable = False

    def __init__(self, values: dict[str, Any]) -> None:
        self.values = {str(key): str(value) for key, value in values.items()}

    def get(self, key: str) -> str | None:
        return self.values.get(key)


class _Router(_Storage):
    def __init__(self, storages: list[_Storage]) -> None:
        self.storages = storages
        self.cache: dict[str, str] = {}
        self.lock = threading.Lock()

    def get(self, key: str) -> str | None:
        with self.lock:
            if key in self.cache:
                return self.cache[key]
        for storage in self.storages:
            value = storage.get(key)
            if value is not None:
                with self.lock:
                    if len(self.cache) < MAX_MEMORY_VALUES:
                        self.cache[key] = value
                return value
        return None

    def set(self, key: str, value: str) -> None:
        self.storages[0].set(key, value)
        with self.lock:
            self.cache.pop(key, None)


class _Variable:
    def __init__(self, entry: Entry) -> None:
        self.id = entry.id
        self.name = entry.get("variable")
        self.key = self.name or entry.name
        self.storage_id = entry.ref(entry.get("storage"))
        self.default = entry.get("default")
        self.readonly = entry.get("readonly") is True


class Environment:
    """The storages (each opened by its unit) and variables an app declares."""

    def __init__(self, resources: AppResources) -> None:
        self.root = resources.registry.root
        self._lock = threading.Lock()
        self.storages: dict[str, _Storage] = {}
        self.by_name: dict[str, _Variable] = {}
        self.by_id: dict[str, _Variable] = {}
        for entry in resources.registry.of_kind("env.variable"):
            variable = _Variable(entry)
            self.by_id[entry.id] = variable
            if variable.name and variable.name not in self.by_name:
                self.by_name[variable.name] = variable  # the first to claim a public name keeps it

    def open(self, entry: Entry) -> None:
        """Open the storage of ``entry`` (a router's storages are open already: it requires them)."""
        if entry.kind == "env.storage.memory":
            storage: _Storage = _Memory()
        elif entry.kind == "env.storage.os":
            storage = _Os()
        elif entry.kind == "env.storage.static":
            storage = _Static(entry.get("values") or {})
        elif entry.kind == "env.storage.file":
            target = Path(str(entry.get("file_path")))
            storage = _File(
                target if target.is_absolute() else self.root / target,
                entry.get("auto_create") is True,
                int(entry.get("file_mode") or 0o644),
            )
        else:
            storage = _Router([self._storage(entry.ref(item)) for item in entry.get("storages")])
        with self._lock:
            self.storages[entry.id] = storage

    def close_storage(self, storage_id: str) -> None:
        with self._lock:
            self.storages.pop(storage_id, None)

    def _storage(self, storage_id: str) -> _Storage:
        with self._lock:
            storage = self.storages.get(storage_id)
        if storage is None:
            raise errors.Error(errors.UNAVAILABLE, f"env storage {storage_id} is not running", retryable=True)
        return storage

    def variable(self, name: str) -> _Variable:
        if not isinstance(name, str) or not name:
            raise errors.Error(errors.INVALID, "env: the key must be a non-empty string")
        variable = self.by_name.get(name) or self.by_id.get(name)
        if variable is None:
            raise errors.Error(errors.NOT_FOUND, f"env: variable {name!r} is not defined")
        return variable

    def get(self, name: str) -> str:
        variable = self.variable(name)
        value = self._storage(variable.storage_id).get(variable.key)
        if value is None:
            value = variable.default
        if value is None:
            raise errors.Error(errors.NOT_FOUND, f"env: variable {name!r} has no value")
        return str(value)

    def set(self, name: str, value: Any) -> bool:
        variable = self.variable(name)
        if variable.readonly:
            raise errors.Error(errors.PERMISSION_DENIED, f"env: variable {name!r} is read-only")
        if not isinstance(value, str):
            raise errors.Error(errors.INVALID, "env.set: the value must be a string")
        if len(value.encode()) > MAX_VALUE_BYTES:
            raise errors.Error(errors.LIMIT_EXCEEDED, f"env.set: value longer than {MAX_VALUE_BYTES} bytes")
        try:
            self._storage(variable.storage_id).set(variable.key, value)
        except errors.Error as err:
            raise errors.Error(err.kind(), f"env: variable {name!r}: {err.message()}") from None
        return True

    def get_all(self) -> dict[str, str]:
        values: dict[str, str] = {}
        for name in self.by_name:
            try:
                values[name] = self.get(name)
            except errors.Error:
                continue
        return values


def environment_of(resources: AppResources) -> Environment:
    return resources.part("env", Environment)


class EnvStorageUnit(EntryUnit):
    """An ``env.storage.*``: opened at start; a router after the storages it routes to."""

    label = "env storage"

    def __init__(self, app: App, context: ContextUnit, entry: Entry) -> None:
        routes = entry.get("storages") if entry.kind == "env.storage.router" else None
        needs = [entry.ref(item) for item in routes or [] if isinstance(item, str)]
        super().__init__(app, context, entry, needs=needs)

    def start(self) -> None:
        environment_of(self.resources).open(self.entry)
        self.app.progress(f"started env storage {self.id} ({self.detail()})")

    def stop(self, timeout: float) -> None:
        environment_of(self.resources).close_storage(self.id)

    def detail(self) -> str:
        return self.entry.kind.removeprefix("env.storage.")


def env_units(app: App, context: ContextUnit) -> list[EnvStorageUnit]:
    """One unit per ``env.storage.*`` entry."""
    return [EnvStorageUnit(app, context, entry) for entry in app.registry.of_kind(*_STORAGES)]


def _env(caller: Caller, what: str, name: Any = None, value: Any = None) -> Any:
    environment = environment_of(resources_of(caller))
    if what == "get":
        return environment.get(name)
    if what == "set":
        return environment.set(name, value)
    return environment.get_all()


register_module("env", resources.files(__package__) / "lua" / "env.lua", {"env": _env}, in_workflows=False)


# -- kinds -----------------------------------------------------------------------------------------


def _check_file(entry: Entry, registry: Registry) -> list[str]:
    path = entry.get("file_path")
    if not isinstance(path, str) or not path:
        return ["missing required field 'file_path'"]
    messages = []
    for key in ("file_mode", "dir_mode"):
        mode = entry.get(key)
        if mode is not None and (
            isinstance(mode, bool) or not isinstance(mode, int) or not 0 <= mode <= 0o7777
        ):
            messages.append(f"{key} must be a file mode (e.g. 0600)")
    return messages


def _check_static(entry: Entry, registry: Registry) -> list[str]:
    values = entry.get("values")
    if values is not None and not isinstance(values, dict):
        return ["values must map names to strings"]
    return []


def _check_router(entry: Entry, registry: Registry) -> list[str]:
    storages = entry.get("storages")
    if not isinstance(storages, list) or not storages or not all(isinstance(item, str) for item in storages):
        return ["storages must be a non-empty list of storage entry IDs"]
    messages = []
    for item in storages:
        target = registry.get(entry.ref(item))
        if target is None:
            messages.append(f"storages references unknown entry {entry.ref(item)!r}")
        elif target.kind not in _STORAGES:
            messages.append(
                f"storages references {target.id!r} of kind {target.kind!r}, expected an env.storage.*"
            )
    if not messages and _router_cycle(entry, registry):
        messages.append("routers route to each other in a cycle")
    return messages


def _router_cycle(entry: Entry, registry: Registry) -> bool:
    """True when ``entry`` reaches itself through the storages of routers."""
    stack = [entry.ref(item) for item in entry.get("storages") or [] if isinstance(item, str)]
    seen: set[str] = set()
    while stack:
        current = stack.pop()
        if current == entry.id:
            return True
        if current in seen:
            continue
        seen.add(current)
        found = registry.get(current)
        if found is not None and found.kind == "env.storage.router":
            stack.extend(found.ref(item) for item in found.get("storages") or [] if isinstance(item, str))
    return False


def _check_variable(entry: Entry, registry: Registry) -> list[str]:
    messages = []
    name = entry.get("variable")
    if name is not None and (not isinstance(name, str) or not _VARIABLE.fullmatch(name)):
        messages.append("variable names contain only a-z, A-Z, 0-9 and _")
    default = entry.get("default")
    if default is not None and not isinstance(default, (str, int, float)):
        messages.append("default must be a string")
    return messages


def _and_lifecycle(check: Callable[[Entry, Registry], list[str]]) -> Callable[[Entry, Registry], list[str]]:
    """``check`` plus the ``lifecycle`` block's (storages are units of the app)."""
    return lambda entry, registry: [*check_lifecycle(entry, registry), *check(entry, registry)]


register_kind(
    KindSpec("env.storage.memory", check=check_lifecycle, description="in-memory environment storage")
)
register_kind(
    KindSpec("env.storage.file", check=_and_lifecycle(_check_file), description="KEY=VALUE file storage")
)
register_kind(KindSpec("env.storage.os", check=check_lifecycle, description="the OS environment (read-only)"))
register_kind(
    KindSpec(
        "env.storage.static",
        check=_and_lifecycle(_check_static),
        description="values from the entry (read-only)",
    )
)
register_kind(
    KindSpec("env.storage.router", check=_and_lifecycle(_check_router), description="storages tried in order")
)
register_kind(
    KindSpec(
        "env.variable",
        required=("storage",),
        references={"storage": _STORAGES},
        check=_check_variable,
        description="a named environment variable in a storage",
    )
)
