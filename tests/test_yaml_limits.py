"""A tiny YAML file cannot make ``check`` fill the memory (issue 12, defect 8).

A 1 KB file of nested aliases ("billion laughs") drove ``actorflow check``
past 5 GB.  Reading a definition file is now bounded (alias expansion,
nesting, size) and each refusal is an ``INVALID`` problem with file and line.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from actors import errors
from actors.entries import AppLoadError, load_app
from actors.entries.loader import MAX_YAML_BYTES, MAX_YAML_DEPTH, MAX_YAML_NODES

ROOT = Path(__file__).resolve().parents[1]

# The classic bomb: nine levels of nine aliases each, 9**9 (387 million) strings once expanded.
BOMB = """namespace: app
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
entries:
  - name: processes
    kind: process.host
    meta: {bomb: *i}
"""

# Loads the bomb in a fresh interpreter capped at 1 GiB of address space, so a
# regression ends in MemoryError within seconds instead of swapping the machine.
PROBE = """
import json, resource, sys, time
resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))
from actors.entries import AppLoadError, load_app
before_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
started = time.monotonic()
try:
    load_app(sys.argv[1])
    outcome = {"loaded": True}
except AppLoadError as exc:
    outcome = {"kind": exc.kind(), "problems": [str(p) for p in exc.problems]}
except MemoryError:
    outcome = {"memory_error": True}
outcome["seconds"] = time.monotonic() - started
outcome["grew_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 - before_mb
print(json.dumps(outcome))
"""


def test_billion_laughs_is_refused_at_once_with_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "app.yaml").write_text(BOMB)
    assert len(BOMB) < 1024
    result = subprocess.run(
        [sys.executable, "-c", PROBE, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr
    outcome = json.loads(result.stdout)
    assert outcome.get("kind") == errors.INVALID, outcome
    # Line 7 (the first list past the limit: 9**5 strings), not the whole file.
    assert outcome["problems"] == [
        f"app.yaml:7: invalid YAML: too large once its aliases are expanded (more than {MAX_YAML_NODES} nodes)"
    ]
    assert outcome["seconds"] < 1.0
    assert outcome["grew_mb"] < 50  # the peak resident size hardly moved while loading


def test_check_reports_the_bomb_like_any_other_problem(tmp_path: Path) -> None:
    (tmp_path / "app.yaml").write_text(BOMB)
    result = subprocess.run(
        [sys.executable, "-m", "actorflow.cli", "check", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert result.returncode == 1
    assert "app.yaml:7: invalid YAML: too large once its aliases are expanded" in result.stderr
    assert "Traceback" not in result.stderr


def problems_of(tmp_path: Path, text: str) -> list[str]:
    (tmp_path / "app.yaml").write_text(textwrap.dedent(text))
    with pytest.raises(AppLoadError) as info:
        load_app(tmp_path)
    assert info.value.kind() == errors.INVALID
    return [str(problem) for problem in info.value.problems]


def test_aliases_within_the_limit_still_work(tmp_path: Path) -> None:
    (tmp_path / "app.yaml").write_text(
        textwrap.dedent(
            """\
            namespace: app
            entries:
              - name: one
                kind: process.host
                meta: &shared {title: shared, tags: [a, b]}
              - name: two
                kind: process.host
                meta: *shared
            """
        )
    )
    registry = load_app(tmp_path)
    assert registry.require("app:two").meta == {"title": "shared", "tags": ["a", "b"]}


def test_a_recursive_alias_is_refused(tmp_path: Path) -> None:
    problems = problems_of(tmp_path, "namespace: app\nloop: &a [1, *a]\nentries: []\n")
    assert problems == [
        "app.yaml:2: invalid YAML: an alias refers to a node that contains it (recursive alias)"
    ]


def test_deep_nesting_is_refused_without_a_recursion_error(tmp_path: Path) -> None:
    deep = "[" * 5000 + "]" * 5000
    problems = problems_of(tmp_path, f"namespace: app\nx: {deep}\nentries: []\n")
    assert problems == [f"app.yaml:2: invalid YAML: nested deeper than {MAX_YAML_DEPTH} levels"]


def test_an_oversized_file_is_not_read(tmp_path: Path) -> None:
    padding = "#" * 1000 + "\n"
    (tmp_path / "app.yaml").write_text(
        "namespace: app\nentries: []\n" + padding * (MAX_YAML_BYTES // 1000 + 1)
    )
    with pytest.raises(AppLoadError) as info:
        load_app(tmp_path)
    [problem] = [str(p) for p in info.value.problems]
    assert problem.startswith("app.yaml:1: file too large:")


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("2020-02-30", "day is out of range for month"),
        ("1" * 5000, "Exceeds the limit (4300 digits)"),
    ],
)
def test_scalars_python_cannot_hold_are_problems_with_their_line(
    tmp_path: Path, value: str, message: str
) -> None:
    [problem] = problems_of(tmp_path, f"namespace: app\nentries: []\nwhen: {value}\n")
    assert problem.startswith("app.yaml:3: invalid YAML: cannot read")
    assert message in problem
