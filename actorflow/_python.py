"""``python.service`` entries: Python code of the app's own that starts with the app.

```yaml
- name: workers
  kind: python.service
  file: tree.py            # inside the app directory
  start: start             # start(app) -> an object with stop(timeout) (default: "start")
  lifecycle: {auto_start: true, stop_timeout: 5s}
```

``start(app)`` runs when the app starts, after what the entry requires, and
returns what it started (a ``supervision.SupervisorRef``, say); its
``stop(timeout)`` runs when the app stops.  This is how an app runs Python
actors and supervision trees next to its Lua processes.  The file is the app
author's own code, trusted as the app's YAML is: unlike Lua, it is not
sandboxed.  It is imported only when the app runs, never by ``check``.
"""

from __future__ import annotations

import importlib.util
import inspect
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from actorflow._lifecycle import lifecycle_of
from actors import errors
from actors.entries import Entry, KindSpec, Registry, check_lifecycle, register_kind

if TYPE_CHECKING:
    from actorflow.app import App

__all__ = ["PythonServiceUnit", "python_units"]

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _file_of(entry: Entry, root: Path) -> tuple[Path | None, str | None]:
    raw = entry.get("file")
    if not isinstance(raw, str) or not raw:
        return None, "missing required field 'file' (a .py file in the app directory)"
    relative = raw.removeprefix("file://")
    path = (entry.file.parent / relative).resolve()
    try:
        path.relative_to(root.resolve())
    except ValueError:
        return None, f"file {raw} is outside the app directory"
    if path.suffix != ".py":
        return None, f"file {raw} is not a .py file"
    if not path.is_file():
        return None, f"file {raw} not found"
    return path, None


def _check(entry: Entry, registry: Registry) -> list[str]:
    messages = check_lifecycle(entry, registry)
    _path, problem = _file_of(entry, registry.root)
    if problem:
        messages.append(problem)
    start = entry.get("start", "start")
    if not isinstance(start, str) or not _IDENTIFIER.match(start):
        messages.append(f"'start' must be a Python function name, got {start!r}")
    return messages


register_kind(
    KindSpec(
        "python.service",
        required=("file",),
        check=_check,
        description="Python code of the app started and stopped with it (start(app) -> obj with stop)",
    )
)


class PythonServiceUnit:
    """Runs one ``python.service`` entry's ``start(app)`` and, at stop, the result's ``stop``."""

    def __init__(self, app: App, entry: Entry) -> None:
        self.app = app
        self.entry = entry
        self.id = entry.id
        self.provides = frozenset({entry.id})
        self.lifecycle = lifecycle_of(entry)
        self.requires = frozenset({*self.lifecycle.requires, app.default_host_id})
        self.started: Any = None

    def start(self) -> None:
        path, problem = _file_of(self.entry, self.app.registry.root)
        if path is None:
            raise errors.Error(errors.INVALID, f"{self.id}: {problem}")
        name = re.sub(r"\W", "_", self.id)  # app:workers → app_workers (the module of its classes)
        spec = importlib.util.spec_from_file_location(name, path)
        if spec is None or spec.loader is None:
            raise errors.Error(errors.INVALID, f"{self.id}: cannot import {path}")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        try:
            spec.loader.exec_module(module)
        except Exception as exc:
            sys.modules.pop(name, None)
            raise errors.Error(errors.INVALID, f"{self.id}: importing {path.name} failed: {exc!r}") from None
        start = getattr(module, str(self.entry.get("start", "start")), None)
        if not callable(start):
            raise errors.Error(
                errors.INVALID, f"{self.id}: {path.name} has no function {self.entry.get('start', 'start')}"
            )
        self.started = start(self.app)
        self.app.progress(f"started {self.id} ({path.name})")

    def stop(self, timeout: float) -> None:
        started, self.started = self.started, None
        stop = getattr(started, "stop", None)
        if stop is None:
            return
        try:
            takes_timeout = bool(inspect.signature(stop).parameters)
        except (TypeError, ValueError):
            takes_timeout = False
        if takes_timeout:
            stop(timeout)
        else:
            stop()


def python_units(app: App) -> list[Any]:
    """One unit per ``python.service`` entry whose ``lifecycle.auto_start`` is not false."""
    return [
        PythonServiceUnit(app, entry)
        for entry in app.registry.of_kind("python.service")
        if lifecycle_of(entry).auto_start is not False
    ]
