"""Fuzzing the YAML loader with random and malformed app directories.

Whatever an app directory holds, ``load_app`` returns a registry or raises
``AppLoadError`` (``INVALID``) listing problems with file and line: never
another exception, a crash or a hang.  Bounded for ``make test``; see
``tests/fuzz_support.py`` for the long mode.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import yaml
from hypothesis import example, given
from hypothesis import strategies as st

import supervision  # noqa: F401 - registers process.service
import temporal_bridge  # noqa: F401 - registers the temporal.* kinds and workflow.lua
from actors import errors
from actors.entries import AppLoadError, Registry, known_kinds, load_app

from .fuzz_support import fuzz

ROOT = Path(__file__).resolve().parents[1]
SAGA_YAML = (ROOT / "examples" / "saga" / "app.yaml").read_text()


def load(files: dict[str, bytes | str]) -> Registry | AppLoadError:
    """Load an app made of ``files``; the registry, or the ``INVALID`` error listing its problems."""
    with tempfile.TemporaryDirectory() as directory:
        root = Path(directory)
        for name, content in files.items():
            path = root / name
            path.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, str):
                path.write_text(content, encoding="utf-8", errors="surrogatepass")
            else:
                path.write_bytes(content)
        try:
            return load_app(root)
        except AppLoadError as err:
            assert err.kind() == errors.INVALID
            assert err.problems, "an AppLoadError names its problems"
            for problem in err.problems:
                assert problem.line >= 1 and problem.file, problem
            return err


# -- raw and mutated text --------------------------------------------------------------------------


@fuzz(300)
@given(st.text(max_size=400))
@example("namespace: app\nentries: [")
@example("- - - - - -")
@example("namespace: [a]\nentries: []")
@example("namespace: app\nentries:\n  - {name: x, kind: process.lua, source: !!binary aGVsbG8=}")
@example("&a [*a]")
@example("namespace: app\nentries: !!set {a, b}")
@example("!!python/object/apply:os.system ['echo pwned']")
@example("namespace: app\nentries:\n  - {name: x, kind: process.host, meta: {? [1, 2] : 3}}")
@example("namespace: app\nentries:\n  - {name: 1, kind: process.host}\n  - {name: y, kind: 7}")
@example("namespace: app\nentries:\n  - {<<: {name: m, kind: process.host}}")
def test_any_text_loads_or_is_invalid(text: str) -> None:
    load({"app.yaml": text})


@fuzz(200)
@given(st.binary(max_size=200))
@example(b"\xff\xfe\x00n\x00a")
@example(b"namespace: app\x00\nentries: []")
def test_any_bytes_load_or_are_invalid(data: bytes) -> None:
    load({"app.yaml": data})


MUTATION = st.tuples(
    st.sampled_from(["insert", "delete", "replace"]),
    st.integers(min_value=0, max_value=len(SAGA_YAML)),
    st.sampled_from([*":-[]{}&*!|>'\"#\n\t ?,%@`", "  ", "\n  - ", "*x", "&x ", "!!int ", "file://"]),
)


def mutated(mutations: list[tuple[str, int, str]]) -> str:
    text = SAGA_YAML
    for action, position, piece in mutations:
        position = min(position, len(text))
        if action == "insert":
            text = text[:position] + piece + text[position:]
        elif action == "delete":
            text = text[:position] + text[position + len(piece) :]
        else:
            text = text[:position] + piece + text[position + len(piece) :]
    return text


@fuzz(100)
@given(st.lists(MUTATION, min_size=1, max_size=6))
def test_a_mutated_app_loads_or_is_invalid(mutations: list[tuple[str, int, str]]) -> None:
    saga = ROOT / "examples" / "saga"
    lua = {str(path.relative_to(saga)): path.read_text() for path in saga.rglob("*.lua")}
    load({"app.yaml": mutated(mutations), **lua})


# -- structured documents: every kind, random fields -----------------------------------------------

LEAVES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(),
    st.text(max_size=20),
    st.sampled_from(
        ["5s", "-1s", "0", "2562048h", "1e3s", "app:worker", "worker", "file://main.lua", "nope:x"]
    ),
)
JUNK = st.recursive(
    LEAVES,
    lambda children: st.one_of(
        st.lists(children, max_size=3), st.dictionaries(st.text(max_size=10), children, max_size=3)
    ),
    max_leaves=12,
)
FIELDS = [
    "source",
    "method",
    "modules",
    "imports",
    "host",
    "lifecycle",
    "process",
    "input",
    "client",
    "task_queue",
    "address",
    "namespace",
    "server",
    "sqlite_pragmas",
    "search_attributes",
    "worker_options",
    "tls",
    "auth",
    "memory_limit",
    "connection_timeout",
    "tq_prefix",
]
LIFECYCLES = st.fixed_dictionaries(
    {},
    optional={
        "auto_start": JUNK,
        "start_timeout": JUNK,
        "stop_timeout": JUNK,
        "depends_on": st.lists(st.sampled_from(["app:a", "b", "x:y", ""]), max_size=3) | JUNK,
        "restart": st.fixed_dictionaries(
            {},
            optional={
                "initial_delay": JUNK,
                "max_delay": JUNK,
                "backoff_factor": JUNK,
                "max_attempts": JUNK,
                "jitter": JUNK,
            },
        )
        | JUNK,
    },
)
NAMES = st.one_of(
    st.sampled_from(["a", "b", "main", "worker", "temporal_client", "x.y"]), st.text(max_size=12)
)


@st.composite
def entries(draw: st.DrawFn) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "name": draw(NAMES | JUNK),
        "kind": draw(st.sampled_from(known_kinds()) | st.text(max_size=12)),
    }
    for field in draw(st.lists(st.sampled_from(FIELDS), max_size=5, unique=True)):
        entry[field] = draw(JUNK)
    if draw(st.booleans()):
        entry["source"] = draw(
            st.sampled_from(
                ["file://main.lua", "file://../x.lua", "file:///etc/hostname", "return 1", "main.lua"]
            )
            | JUNK
        )
    if draw(st.booleans()):
        entry["lifecycle"] = draw(LIFECYCLES)
    if draw(st.booleans()):
        entry["meta"] = draw(
            st.fixed_dictionaries(
                {},
                optional={
                    "temporal": st.fixed_dictionaries(
                        {},
                        optional={
                            "workflow": st.fixed_dictionaries(
                                {}, optional={"worker": NAMES | JUNK, "name": JUNK}
                            ),
                            "activity": st.fixed_dictionaries(
                                {}, optional={"worker": NAMES | JUNK, "local": JUNK}
                            ),
                        },
                    )
                    | JUNK
                },
            )
            | JUNK
        )
    return entry


DOCUMENTS = st.one_of(
    st.fixed_dictionaries(
        {
            "namespace": st.sampled_from(["app", "app.workers"]) | NAMES | JUNK,
            "entries": st.lists(entries(), max_size=6),
        }
    ),
    st.lists(entries(), max_size=6),
    entries(),
    JUNK,
)


@fuzz(100)
@given(DOCUMENTS, st.text(max_size=200), st.booleans())
def test_a_random_app_loads_or_is_invalid(document: Any, lua: str, second_file: bool) -> None:
    files: dict[str, bytes | str] = {
        "app.yaml": yaml.safe_dump(document, allow_unicode=True),
        "main.lua": lua,
    }
    if second_file:
        files["sub/more.yaml"] = yaml.safe_dump(document, allow_unicode=True)  # duplicates, other dir
    load(files)
