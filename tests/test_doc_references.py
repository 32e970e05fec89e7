"""The docs stay true to the code: every module is in the architecture, every cited test exists.

``docs/architecture.md`` names every module of the project's packages (its
module tree, under the package's own heading, or by its path anywhere), so
a new module without a line there fails here.  Every test file and test the
docs cite (``test_x.py``, ``test_x.py::test_name``, ``::test_name`` for
another test of the file cited last in the paragraph) exists, so renaming
or splitting a test file cannot leave a doc pointing at nothing.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("actors", "actorflow", "temporal_bridge", "supervision", "wippy_compat", "cluster")
ARCHITECTURE = ROOT / "docs" / "architecture.md"

_TREE_HEADING = re.compile(r"^[\s│├└─]*(" + "|".join(PACKAGES) + r")/(?:\s|$)")


def modules() -> list[Path]:
    """Every Python and Lua module of the packages, relative to the repository."""
    found = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*")):
            if path.suffix in (".py", ".lua") and "__pycache__" not in path.parts:
                found.append(path.relative_to(ROOT))
    return found


def tree_sections(text: str) -> dict[str, str]:
    """The module tree (the document's first code block) cut at each package's heading line."""
    tree = text.split("```", 2)[1]
    sections: dict[str, list[str]] = {}
    current = None
    for line in tree.splitlines():
        heading = _TREE_HEADING.match(line)
        if heading:
            current = heading.group(1)
        if current is not None:
            sections.setdefault(current, []).append(line)
    return {package: "\n".join(lines) for package, lines in sections.items()}


def mentioned(module: Path, text: str, sections: dict[str, str]) -> bool:
    """``module`` by its path anywhere, or in its package's section of the tree: a file by its
    name, a package's ``__init__.py`` by its directory (``lib/``)."""
    if str(module) in text:
        return True
    section = sections.get(module.parts[0], "")
    if module.name == "__init__.py":
        if len(module.parts) == 2:
            return True  # the package's own heading
        word = module.parts[-2] + "/"
    else:
        word = module.name
    return re.search(rf"(?<![\w.-]){re.escape(word)}(?![\w])", section) is not None


def test_architecture_names_every_module() -> None:
    text = ARCHITECTURE.read_text()
    sections = tree_sections(text)
    assert set(sections) == set(PACKAGES), "the module tree lost a package heading"
    missing = [str(module) for module in modules() if not mentioned(module, text, sections)]
    assert missing == [], "docs/architecture.md does not name: " + ", ".join(missing)


def test_the_module_check_finds_an_unnamed_module() -> None:
    text = "```\nactors/\n  pid.py   PIDs\n  lua/\n    lib/  plug-ins: json.lua\nactorflow/\n  app.py\n```\n"
    sections = tree_sections(text)
    assert mentioned(Path("actors/pid.py"), text, sections)
    assert mentioned(Path("actors/lua/lib/json.lua"), text, sections)
    assert mentioned(Path("actors/lua/lib/__init__.py"), text, sections)
    assert not mentioned(Path("actors/app.py"), text, sections)  # named, but in another package
    assert not mentioned(Path("actors/lua/lib/yaml.lua"), text, sections)
    assert not mentioned(Path("actors/_pid.py"), text, sections)  # a name inside another is not it


_CITATION = re.compile(r"`(?:tests/)?(test_\w+\.py)?(?:::(\w+)(?:\[[^`]*\])?)?")


def citations(path: Path) -> list[tuple[int, str, str | None]]:
    """``(line, test file, test or None)`` for every test the document cites."""
    found = []
    last_file: str | None = None
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            last_file = None  # ``::name`` refers to a file of the same paragraph or table row
        for match in _CITATION.finditer(line):
            file, name = match.groups()
            if file is None and name is None:
                continue
            if file is not None:
                last_file = file
            found.append((number, file or last_file or "?", name))
    return found


def defined_tests(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    return {
        node.name
        for node in ast.walk(tree)
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
    }


def test_every_test_the_docs_cite_exists() -> None:
    documents = [*sorted((ROOT / "docs").glob("*.md")), ROOT / "README.md"]
    wrong = []
    for document in documents:
        for number, file, name in citations(document):
            where = f"{document.relative_to(ROOT)}:{number}"
            path = ROOT / "tests" / file
            if not path.is_file():
                wrong.append(f"{where}: no tests/{file}")
            elif name is not None and name not in defined_tests(path):
                wrong.append(f"{where}: no {name} in tests/{file}")
    assert wrong == []


def test_the_citation_check_reads_files_tests_and_continuations(tmp_path: Path) -> None:
    document = tmp_path / "doc.md"
    document.write_text(
        "| row | `test_a.py::test_one`, `::test_two[x-1]` |\nsee `tests/test_b.py`\n\n`::test_orphan`\n"
    )
    assert citations(document) == [
        (1, "test_a.py", "test_one"),
        (1, "test_a.py", "test_two"),
        (2, "test_b.py", None),
        (4, "?", "test_orphan"),
    ]
