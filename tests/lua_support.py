"""Writing small Lua apps in a temporary directory and running them."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import yaml

from actorflow.app import App


def write_app(
    root: Path, entries: list[dict[str, Any]], files: dict[str, str], namespace: str = "app"
) -> Path:
    """An app directory with one YAML file of ``entries`` and the given Lua files."""
    root.mkdir(parents=True, exist_ok=True)
    document = {"namespace": namespace, "entries": entries}
    (root / "app.yaml").write_text(yaml.safe_dump(document, sort_keys=False))
    for name, source in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(source))
    return root


def lua_entry(
    name: str, kind: str = "process.lua", modules: tuple[str, ...] = (), **extra: Any
) -> dict[str, Any]:
    entry: dict[str, Any] = {"name": name, "kind": kind, "source": f"file://{name}.lua", "method": "main"}
    if modules:
        entry["modules"] = list(modules)
    entry.update(extra)
    return entry


HOST = {"name": "processes", "kind": "process.host", "host": {"workers": 2}}
ALL_MODULES = ("funcs", "time", "uuid", "json", "ctx", "logger", "crypto")


def run_lua(
    root: Path,
    source: str,
    *args: Any,
    modules: tuple[str, ...] = ALL_MODULES,
    extra: dict[str, str] | None = None,
    extra_entries: list[dict[str, Any]] | None = None,
    timeout: float = 10.0,
) -> Any:
    """Run ``source`` (a Lua file whose ``main`` is the entry point) and return its value."""
    files = {"main.lua": source, **(extra or {})}
    entries = [HOST, lua_entry("main", modules=modules), *(extra_entries or [])]
    write_app(root, entries, files)
    with App(root, extensions=[]) as app:
        return app.exec("app:main", *args, timeout=timeout)
