"""Loading an app directory: every YAML file, validated before anything starts.

A definition file is either ``{namespace, entries: [...], version?}``, a single
entry ``{namespace?, name, kind, ...}``, or a bare list of entries (namespace
``app``, the form the user's documents show).  Every mistake — bad YAML,
unknown kind, missing field, missing source file, duplicate ID, reference to
an unknown entry — becomes a :class:`~actors.entries.model.Problem` with the
file, line and entry ID, and all of them are reported together in one
:class:`AppLoadError`.

A definition file is untrusted input, so reading one is bounded: its size
(:data:`MAX_YAML_BYTES`), its nesting (:data:`MAX_YAML_DEPTH`) and the number
of nodes it would have once every alias is expanded (:data:`MAX_YAML_NODES`),
see :mod:`actors.entries.bounded_yaml`.

Names and sources are checked so that an ID means one thing and an app reads
only its own files: namespaces and entry names are dot-separated parts of
letters, digits, ``_`` and ``-`` (:data:`NAME_RULE`; no ``:``, ``|``, braces,
spaces, newlines or ``..``, which would make IDs and PIDs ambiguous or a name
a path); a code entry's ``source`` is ``file://relative/path.lua`` inside
the app directory (no absolute paths, no ``..`` or symlink leading out) or
inline Lua, and any other ``scheme://`` is refused.

The loader is the one module of ``actors.entries`` that uses the Lua layer:
a code entry's source is checked with it (Wippy's type annotations erased,
compiled for syntax errors, its ``modules`` among the registered ones), and
the libraries entries import become Lua modules (:mod:`actors.lua.libraries`).
The model, the import checks and the YAML reader import nothing of Lua.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

from actors import errors
from actors.entries.bounded_yaml import MAX_YAML_BYTES, MAX_YAML_DEPTH, MAX_YAML_NODES, TooLarge, parse, plain
from actors.entries.imports import RESERVED_PREFIX, import_problems
from actors.entries.model import Entry, KindSpec, Problem, Registry, kind_spec, known_kinds
from actors.entries.wippy_kinds import unknown_kind_message
from actors.lua.libraries import builtin_libraries_for, wire_imports
from actors.lua.libraries import register_library as register_library
from actors.lua.modules import module_names
from actors.lua.typed import erase_types

__all__ = [
    "DEFAULT_NAMESPACE",
    "MAX_YAML_BYTES",
    "MAX_YAML_DEPTH",
    "MAX_YAML_NODES",
    "NAME_RULE",
    "AppLoadError",
    "entry_problems",
    "is_valid_name",
    "load_app",
    "make_entry",
    "register_library",
]

DEFAULT_NAMESPACE = "app"
MAX_SOURCE_BYTES = 4 * 1024 * 1024
"""The largest Lua source file read."""
MAX_NAME_LENGTH = 128
"""The longest namespace or entry name."""

NAME_RULE = (
    "letters, digits, '_' and '-' in parts separated by single dots (e.g. app.workers, get_user.endpoint)"
)
"""What a namespace or an entry name may be, as error messages say it."""

_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_-]*(?:\.[A-Za-z0-9_][A-Za-z0-9_-]*)*")
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*)://")
_PATH_LIKE = re.compile(r"[\w./-]+\.lua")


def is_valid_name(text: object) -> bool:
    """True when ``text`` may be a namespace or an entry name (see :data:`NAME_RULE`)."""
    return isinstance(text, str) and len(text) <= MAX_NAME_LENGTH and _NAME.fullmatch(text) is not None


_SKIP_DIRS = {".venv", "venv", "node_modules", "__pycache__", ".git"}


class AppLoadError(errors.Error):
    """An app with problems; ``problems`` lists every one of them."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = sorted(problems, key=lambda p: (p.file, p.line, p.entry_id, p.message))
        count = len(self.problems)
        lines = "\n".join(f"  {problem}" for problem in self.problems)
        super().__init__(errors.INVALID, f"app has {count} problem{'s' if count != 1 else ''}:\n{lines}")


def load_app(root: str | Path) -> Registry:
    """Load and validate every entry under ``root`` (a directory or one YAML file).

    A Wippy project root (``wippy.lock``, ``wippy.yaml`` or ``.wippy.yaml``
    beside a source directory) is read as Wippy reads it: the definitions
    are the YAML files of the source directory (``directories.src`` of
    ``wippy.lock``, ``./src`` by default); the project files themselves are
    configuration, not definitions.
    """
    base = Path(root).resolve()
    if not base.exists():
        raise errors.Error(errors.NOT_FOUND, f"app {root} does not exist")
    app_dir = base.parent if base.is_file() else base
    problems: list[Problem] = []
    if base.is_file():
        files = [base]
    else:
        sources = _project_sources(base, problems)
        files = sorted(_yaml_files(sources if sources is not None else base))
    entries: list[Entry] = []
    seen: dict[str, Entry] = {}
    for path in files:
        for entry in _read_file(path, app_dir, problems):
            previous = seen.get(entry.id)
            if previous is not None:
                problems.append(
                    _problem(
                        entry,
                        f"duplicate entry ID (first declared at {_rel(previous.file, app_dir)}:"
                        f"{previous.line})",
                        app_dir,
                    )
                )
                continue
            seen[entry.id] = entry
            entries.append(entry)
    entries.extend(builtin_libraries_for(entries, set(seen)))  # libraries packages ship (migrations…)
    registry = Registry(app_dir, entries)
    for entry in entries:
        spec = kind_spec(entry.kind)
        if spec is not None:
            problems.extend(
                _problem(entry, message, app_dir) for message in _check_entry(entry, spec, registry)
            )
    problems.extend(
        _problem(entry, message, app_dir) for entry, message in import_problems(entries, registry)
    )
    if problems:
        raise AppLoadError(problems)
    wire_imports(entries, registry)
    return registry


PROJECT_FILES = ("wippy.lock", "wippy.yaml", ".wippy.yaml")
"""The files that make a directory a Wippy project root."""


def _project_sources(base: Path, problems: list[Problem]) -> Path | None:
    """The source directory of a Wippy project root at ``base``; ``None`` when it is no project root."""
    if not any((base / name).is_file() for name in PROJECT_FILES):
        return None
    relative = "./src"
    lock = base / "wippy.lock"
    if lock.is_file():
        try:
            document = (
                parse(lock.read_text(encoding="utf-8")) if lock.stat().st_size <= MAX_YAML_BYTES else None
            )
        except Exception as exc:  # a broken lock file is reported, never a traceback
            problems.append(Problem("wippy.lock", 1, "", f"cannot read the lock file: {exc}"))
            return base / "src"
        directories = document.get("directories") if isinstance(document, dict) else None
        if isinstance(directories, dict) and isinstance(directories.get("src"), str) and directories["src"]:
            relative = directories["src"]
    sources = (base / relative).resolve()
    if not _inside(sources, base):
        problems.append(Problem("wippy.lock", 1, "", f"directories.src {relative!r} is outside the project"))
        return base / "src"
    if not sources.is_dir():
        name = "wippy.lock" if lock.is_file() else next(n for n in PROJECT_FILES if (base / n).is_file())
        problems.append(
            Problem(
                name,
                1,
                "",
                f"this is a Wippy project root, but its source directory {relative} does not exist",
            )
        )
    return sources


def _yaml_files(base: Path) -> Iterable[Path]:
    for path in base.rglob("*"):
        if path.suffix not in (".yaml", ".yml") or not path.is_file():
            continue
        if any(part in _SKIP_DIRS or part.startswith(".") for part in path.relative_to(base).parts[:-1]):
            continue
        yield path


def _rel(path: Path, app_dir: Path) -> str:
    try:
        return str(path.relative_to(app_dir))
    except ValueError:
        return str(path)


def _problem(entry: Entry, message: str, app_dir: Path) -> Problem:
    return Problem(_rel(entry.file, app_dir), entry.line, entry.id, message)


def _inside(path: Path, app_dir: Path) -> bool:
    """True when ``path``, symlinks followed, is in ``app_dir`` (already resolved)."""
    try:
        return path.resolve().is_relative_to(app_dir)
    except (OSError, RuntimeError, ValueError):  # a symlink loop, a NUL byte
        return False


def _read_file(path: Path, app_dir: Path, problems: list[Problem]) -> list[Entry]:
    name = _rel(path, app_dir)
    if not _inside(path, app_dir):
        problems.append(Problem(name, 1, "", "definition file is a link to outside the app directory"))
        return []
    try:
        size = path.stat().st_size
        if size > MAX_YAML_BYTES:
            problems.append(Problem(name, 1, "", f"file too large: {size} bytes (at most {MAX_YAML_BYTES})"))
            return []
        document = parse(path.read_text(encoding="utf-8"))
    except TooLarge as exc:
        problems.append(Problem(name, exc.line, "", f"invalid YAML: {exc}"))
        return []
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        line = mark.line + 1 if mark is not None else 1
        reason = getattr(exc, "problem", None) or str(exc)
        context, context_mark = getattr(exc, "context", None), getattr(exc, "context_mark", None)
        if context and context_mark is not None:
            reason = f"{reason} ({context} at line {context_mark.line + 1})"
        problems.append(Problem(name, line, "", f"invalid YAML: {reason}"))
        return []
    except (OSError, UnicodeDecodeError) as exc:
        problems.append(Problem(name, 1, "", f"cannot read file: {exc}"))
        return []
    except Exception as exc:  # the parser is third-party code fed untrusted text: never a traceback
        problems.append(Problem(name, 1, "", f"invalid YAML: {type(exc).__name__}: {exc}"))
        return []
    if document is None:
        return []
    if isinstance(document, list):
        namespace, items = DEFAULT_NAMESPACE, document
    elif isinstance(document, dict) and "entries" in document:
        namespace = document.get("namespace")
        items = document.get("entries")
        if not isinstance(namespace, str) or not namespace:
            problems.append(
                Problem(name, getattr(document, "line", 1), "", "missing 'namespace' (e.g. app.workers)")
            )
            return []
        if not is_valid_name(namespace):
            problems.append(
                Problem(
                    name,
                    getattr(document, "line", 1),
                    "",
                    f"invalid namespace {namespace!r}: use {NAME_RULE}",
                )
            )
            return []
        if not isinstance(items, list):
            problems.append(Problem(name, getattr(document, "line", 1), "", "'entries' must be a list"))
            return []
    elif isinstance(document, dict) and "kind" in document:
        namespace = document.get("namespace") or DEFAULT_NAMESPACE
        items = [document]
        if not is_valid_name(namespace):
            problems.append(
                Problem(
                    name,
                    getattr(document, "line", 1),
                    "",
                    f"invalid namespace {namespace!r}: use {NAME_RULE}",
                )
            )
            return []
    else:
        problems.append(
            Problem(
                name,
                getattr(document, "line", 1),
                "",
                "not an app definition: expected namespace and entries",
            )
        )
        return []
    result = []
    for item in items:
        entry = _make_entry(item, str(namespace), path, app_dir, problems)
        if entry is not None:
            result.append(entry)
    return result


def make_entry(item: dict[str, Any], namespace: str, path: Path, app_dir: Path) -> Entry:
    """One entry made from ``item`` (``name``, ``kind``, ``meta`` and the kind's fields), checked
    as an entry of a definition file at ``path`` is: name, kind, required fields, and a code
    entry's source read and checked.  Raises :class:`AppLoadError` with what is wrong.

    For entries made while an app runs (Wippy's registry changesets); references to other
    entries are checked by :func:`entry_problems` once the entry is among them.
    """
    problems: list[Problem] = []
    entry = _make_entry(item, namespace, path, app_dir, problems)
    if problems or entry is None:
        raise AppLoadError(problems)
    return entry


def _make_entry(
    item: Any, namespace: str, path: Path, app_dir: Path, problems: list[Problem]
) -> Entry | None:
    name_in_file = _rel(path, app_dir)
    line = getattr(item, "line", 1)
    if not isinstance(item, dict):
        problems.append(Problem(name_in_file, line, "", "an entry must be a mapping with name and kind"))
        return None
    name = item.get("name")
    kind = item.get("kind")
    entry_id = f"{namespace}:{name}" if isinstance(name, str) and name else ""
    if not entry_id:
        problems.append(Problem(name_in_file, line, "", "entry without a 'name'"))
        return None
    if not is_valid_name(name):
        problems.append(Problem(name_in_file, line, "", f"invalid entry name {name!r}: use {NAME_RULE}"))
        return None
    if not isinstance(kind, str) or not kind:
        problems.append(Problem(name_in_file, line, entry_id, "entry without a 'kind'"))
        return None
    meta = item.get("meta") or {}
    if not isinstance(meta, dict):
        problems.append(Problem(name_in_file, line, entry_id, "'meta' must be a mapping"))
        meta = {}
    data = {key: value for key, value in item.items() if key not in ("name", "kind", "meta")}
    entry = Entry(entry_id, namespace, name, kind, data, plain(meta), path, line)
    spec = kind_spec(kind)
    if spec is None:
        problems.append(Problem(name_in_file, line, entry_id, unknown_kind_message(kind, known_kinds())))
        return entry
    for required in spec.required:
        if entry.get(required) in (None, ""):
            problems.append(Problem(name_in_file, line, entry_id, f"missing required field {required!r}"))
    if spec.code:
        _load_source(entry, app_dir, problems)
    entry.data = plain(entry.data)
    return entry


def _load_source(entry: Entry, app_dir: Path, problems: list[Problem]) -> None:
    name_in_file = _rel(entry.file, app_dir)
    source = entry.data.get("source")
    if not isinstance(source, str) or not source.strip():
        problems.append(Problem(name_in_file, entry.line, entry.id, "missing required field 'source'"))
        return
    scheme = _SCHEME.match(source)
    if scheme is not None and scheme.group(1) != "file":
        problems.append(
            Problem(
                name_in_file,
                entry.line,
                entry.id,
                f"unknown source scheme {scheme.group(0)!r}: use file://path/relative/to/the/yaml.lua or inline Lua",
            )
        )
        return
    if scheme is not None:
        relative = source[len("file://") :]
        path = _source_path(relative, entry, app_dir, problems)
        if path is None:
            return
        try:
            entry.source_text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            problems.append(Problem(name_in_file, entry.line, entry.id, f"cannot read {relative}: {exc}"))
            return
        entry.source_name = _rel(path, app_dir)
    elif _PATH_LIKE.fullmatch(source.strip()):
        problems.append(
            Problem(
                name_in_file,
                entry.line,
                entry.id,
                f"source {source.strip()!r} is a file name, not Lua code: write file://{source.strip()}",
            )
        )
        return
    else:  # inline Lua, as an entry made through the registry carries it
        entry.source_text = source
        entry.source_name = f"{name_in_file}:{entry.id}"
    problem = _erase_types(entry)
    if problem is not None:
        problems.append(Problem(name_in_file, entry.line, entry.id, f"Lua type annotation: {problem}"))
    else:
        problem = _syntax_problem(entry.source_text, entry.source_name)
        if problem is not None:
            problems.append(Problem(name_in_file, entry.line, entry.id, f"Lua syntax error: {problem}"))
    method = entry.data.get("method", "main")
    if not isinstance(method, str) or not method:
        problems.append(Problem(name_in_file, entry.line, entry.id, "'method' must be a function name"))
    elif problem is None and entry.kind != "library.lua" and not _may_define(entry.source_text or "", method):
        problems.append(
            Problem(
                name_in_file,
                entry.line,
                entry.id,
                f"method {method!r} is not defined in {entry.source_name}: "
                f"define function {method} (or return a function or a table holding it)",
            )
        )
    modules = entry.data.get("modules", [])
    if not isinstance(modules, list) or not all(isinstance(module, str) for module in modules):
        problems.append(
            Problem(name_in_file, entry.line, entry.id, "'modules' must be a list of module names")
        )
        return
    available = module_names()  # the prelude's and the registered ones
    for module in modules:
        if module.startswith(RESERVED_PREFIX):
            problems.append(
                Problem(
                    name_in_file,
                    entry.line,
                    entry.id,
                    f"module {module!r}: names starting with __ are reserved",
                )
            )
        elif module not in available:
            problems.append(
                Problem(
                    name_in_file,
                    entry.line,
                    entry.id,
                    f"module {module!r} is not available (available: {', '.join(sorted(available))})",
                )
            )


def _source_path(relative: str, entry: Entry, app_dir: Path, problems: list[Problem]) -> Path | None:
    """The file a ``file://`` source names, if it is a readable file inside the app directory."""
    name_in_file = _rel(entry.file, app_dir)

    def refuse(message: str) -> None:
        problems.append(Problem(name_in_file, entry.line, entry.id, message))

    if not relative or "\0" in relative:
        refuse(f"source file://{relative} names no file")
        return None
    if Path(relative).is_absolute() or relative.startswith("~"):
        refuse(f"source file://{relative} is an absolute path: sources are relative to the YAML file")
        return None
    candidate = entry.file.parent / relative
    if not _inside(candidate, app_dir):
        refuse(f"source file://{relative} is outside the app directory")
        return None
    path = candidate.resolve()
    if not path.is_file():
        refuse(f"source file {relative} not found")
        return None
    size = path.stat().st_size
    if size > MAX_SOURCE_BYTES:
        refuse(f"source file {relative} too large: {size} bytes (at most {MAX_SOURCE_BYTES})")
        return None
    return path


_checker: Any = None

# Comments (and the strings, so that a "--" in one is not taken for a comment).
_COMMENTS_AND_STRINGS = re.compile(
    r"""(?P<comment>--\[(?P<ceq>=*)\[.*?\](?P=ceq)\]|--[^\n]*)"""
    r"""|\[(?P<seq>=*)\[.*?\](?P=seq)\]"""
    r"""|"(?:\\.|[^"\\\n])*"|'(?:\\.|[^'\\\n])*'""",
    re.DOTALL,
)


def _may_define(source: str, method: str) -> bool:
    """False only when ``source`` surely cannot provide ``method``.

    Conservative: the method's name must appear outside comments (as a name,
    a field or a string key); a file that returns a function, or a value it
    builds with a call, is given the benefit of the doubt.
    """
    code = _COMMENTS_AND_STRINGS.sub(lambda match: " " if match.group("comment") else match.group(0), source)
    if re.search(rf"(?<!\w){re.escape(method)}(?!\w)", code):
        return True
    return re.search(r"\breturn\s+(function\b|[A-Za-z_][\w.]*\s*\()", code) is not None


def _erase_types(entry: Entry) -> str | None:
    """Erase Wippy's type annotations in place (lines and columns kept); the problem if it cannot."""
    try:
        entry.source_text = erase_types(entry.source_text or "", entry.source_name or "?")
    except errors.Error as err:
        return err.message()
    return None


def _syntax_problem(source: str | None, chunkname: str | None) -> str | None:
    """The compiler's message (file:line: what) when ``source`` is not valid Lua."""
    global _checker
    if source is None:
        return None
    from actors.lua.runtime import LuaState

    if _checker is None:
        _checker = LuaState(max_memory=None)
    try:
        _checker.compile(source, chunkname or "?")
    except errors.Error as err:
        return err.message()
    return None


def entry_problems(entry: Entry, registry: Registry) -> list[str]:
    """What is wrong with ``entry`` among ``registry``'s entries: its references and its kind's checks."""
    spec = kind_spec(entry.kind)
    return [] if spec is None else _check_entry(entry, spec, registry)


def _check_entry(entry: Entry, spec: KindSpec, registry: Registry) -> list[str]:
    messages: list[str] = []
    for field_name, kinds in spec.references.items():
        if field_name.startswith("meta."):
            value = entry.meta_get(field_name[len("meta.") :])
        else:
            value = entry.get(field_name)
        if value in (None, ""):
            continue
        if not isinstance(value, str):
            messages.append(f"{field_name!r} must be an entry ID")
            continue
        target_id = entry.ref(value)
        target = registry.get(target_id)
        if target is None:
            messages.append(f"{field_name} references unknown entry {target_id!r}")
        elif kinds and target.kind not in kinds:
            messages.append(
                f"{field_name} references {target_id!r} of kind {target.kind!r}, expected {' or '.join(kinds)}"
            )
    if spec.check is not None:
        messages.extend(spec.check(entry, registry))
    return messages
