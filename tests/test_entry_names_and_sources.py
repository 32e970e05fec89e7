"""Entry names, namespaces and sources are validated at load (issue 12, defect 13).

Entry and namespace names with ``:``, ``{``, ``|``, ``}``, newlines or
``..`` were accepted and made IDs and PIDs ambiguous; a ``temporal.client``
name became a path in the state dir; a ``source:`` with another scheme was
compiled as Lua; sources could be read from outside the app directory
(``file://../../etc/passwd``, absolute paths, symlinks).  Each is now an
``INVALID`` problem with file and line, shown by ``check``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

from actorflow.app import App
from actors import errors
from actors.entries import AppLoadError, load_app
from actors.entries.loader import NAME_RULE, is_valid_name

ROOT = Path(__file__).resolve().parents[1]


def app_with(root: Path, entries: list[dict[str, object]], namespace: str = "app") -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "app.yaml").write_text(
        yaml.safe_dump({"namespace": namespace, "entries": entries}, sort_keys=False)
    )
    return root


def problems_of(root: Path) -> list[str]:
    with pytest.raises(AppLoadError) as info:
        load_app(root)
    assert info.value.kind() == errors.INVALID
    return [str(problem) for problem in info.value.problems]


BAD_NAMES = [
    "a:b",
    "{app:processes|0x1}",
    "a|b",
    "a}",
    "a{",
    "line\nbreak",
    "a..b",
    "..",
    "../../escape",
    ".hidden",
    "trailing.",
    "a/b",
    "a b",
    "a@b",
    "-flag",
    "x" * 129,
]


@pytest.mark.parametrize("name", BAD_NAMES)
def test_an_ambiguous_entry_name_is_refused_with_file_and_line(tmp_path: Path, name: str) -> None:
    app_with(
        tmp_path, [{"name": "processes", "kind": "process.host"}, {"name": name, "kind": "process.host"}]
    )
    assert problems_of(tmp_path) == [f"app.yaml:5: invalid entry name {name!r}: use {NAME_RULE}"]


@pytest.mark.parametrize("namespace", ["app:x", "a..b", "a/b", "app\n", "{app}", "a|b", "../x", ".app"])
def test_an_ambiguous_namespace_is_refused(tmp_path: Path, namespace: str) -> None:
    app_with(tmp_path, [{"name": "processes", "kind": "process.host"}], namespace=namespace)
    assert problems_of(tmp_path) == [f"app.yaml:1: invalid namespace {namespace!r}: use {NAME_RULE}"]


def test_a_single_entry_file_with_a_bad_namespace_is_refused(tmp_path: Path) -> None:
    (tmp_path / "one.yaml").write_text("namespace: 'a:b'\nname: processes\nkind: process.host\n")
    assert problems_of(tmp_path) == [f"one.yaml:1: invalid namespace 'a:b': use {NAME_RULE}"]


@pytest.mark.parametrize(
    "name", ["get_user", "get_user.endpoint", "api.v2", "order-saga", "404_handler", "x" * 128]
)
def test_names_the_docs_use_are_accepted(name: str) -> None:
    assert is_valid_name(name)
    assert is_valid_name("app.workers." + name[:100])


def test_a_temporal_client_name_cannot_become_a_path(tmp_path: Path) -> None:
    app = tmp_path / "app"
    app_with(app, [{"name": "../../../outside", "kind": "temporal.client"}])
    problems = problems_of(app)
    assert problems == [f"app.yaml:3: invalid entry name '../../../outside': use {NAME_RULE}"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["app"]


def test_check_shows_name_and_source_problems(tmp_path: Path) -> None:
    app_with(
        tmp_path,
        [
            {"name": "a:b", "kind": "process.host"},
            {"name": "main", "kind": "process.lua", "source": "file:///etc/passwd"},
        ],
    )
    result = subprocess.run(
        [sys.executable, "-m", "actorflow.cli", "check", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert result.returncode == 1
    assert f"app.yaml:3: invalid entry name 'a:b': use {NAME_RULE}" in result.stderr
    assert (
        "app.yaml:5: app:main: source file:///etc/passwd is an absolute path: sources are relative to the YAML file"
        in result.stderr
    )
    assert "Traceback" not in result.stderr


def lua_app(root: Path, source: str) -> Path:
    return app_with(root, [{"name": "main", "kind": "process.lua", "source": source}])


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("http://example.com/main.lua", "unknown source scheme 'http://'"),
        ("https://example.com/main.lua", "unknown source scheme 'https://'"),
        ("s3://bucket/main.lua", "unknown source scheme 's3://'"),
        ("FILE://main.lua", "unknown source scheme 'FILE://'"),
        ("file:///etc/passwd", "source file:///etc/passwd is an absolute path"),
        ("file://~/secrets.lua", "source file://~/secrets.lua is an absolute path"),
        ("file://../../etc/passwd", "source file://../../etc/passwd is outside the app directory"),
        ("file://../outside.lua", "source file://../outside.lua is outside the app directory"),
        ("file://", "source file:// names no file"),
        ("main.lua", "source 'main.lua' is a file name, not Lua code: write file://main.lua"),
        ("lib/helpers.lua", "source 'lib/helpers.lua' is a file name, not Lua code"),
    ],
)
def test_a_source_outside_the_app_or_of_another_scheme_is_refused(
    tmp_path: Path, source: str, message: str
) -> None:
    (tmp_path / "outside.lua").write_text("return function() return 'secret' end\n")
    app = lua_app(tmp_path / "app", source)
    (app / "main.lua").write_text("return function() end\n")
    [problem] = problems_of(app)
    assert problem.startswith("app.yaml:3: app:main: " + message), problem


def test_a_source_symlink_leading_out_of_the_app_is_refused(tmp_path: Path) -> None:
    (tmp_path / "outside.lua").write_text("return function() return 'secret' end\n")
    app = lua_app(tmp_path / "app", "file://main.lua")
    os.symlink(tmp_path / "outside.lua", app / "main.lua")
    assert problems_of(app) == ["app.yaml:3: app:main: source file://main.lua is outside the app directory"]


def test_a_symlink_within_the_app_and_a_parent_path_that_stays_inside_are_fine(tmp_path: Path) -> None:
    app = app_with(
        tmp_path,
        [
            {"name": "processes", "kind": "process.host"},
            {"name": "main", "kind": "process.lua", "source": "file://lib/../code/main.lua"},
            {"name": "linked", "kind": "process.lua", "source": "file://linked.lua"},
        ],
    )
    (app / "lib").mkdir()
    (app / "code").mkdir()
    (app / "code" / "main.lua").write_text("return function() return 'inside' end\n")
    os.symlink(app / "code" / "main.lua", app / "linked.lua")
    registry = load_app(app)
    assert registry.require("app:main").source_name == "code/main.lua"
    assert registry.require("app:linked").source_name == "code/main.lua"


def test_a_definition_file_linking_out_of_the_app_is_refused(tmp_path: Path) -> None:
    (tmp_path / "elsewhere.yaml").write_text(
        "namespace: app\nentries:\n  - {name: stolen, kind: process.host}\n"
    )
    app = app_with(tmp_path / "app", [{"name": "processes", "kind": "process.host"}])
    os.symlink(tmp_path / "elsewhere.yaml", app / "more.yaml")
    assert problems_of(app) == ["more.yaml:1: definition file is a link to outside the app directory"]


def test_inline_lua_is_still_allowed(tmp_path: Path) -> None:
    app_with(
        tmp_path,
        [
            {"name": "processes", "kind": "process.host"},
            {
                "name": "main",
                "kind": "process.lua",
                "source": textwrap.dedent(
                    """\
                    local function main(who) return "hello " .. who end
                    return {main = main}
                    """
                ),
            },
        ],
    )
    with App(tmp_path, extensions=[]) as app:
        assert app.exec("app:main", "ada", timeout=10) == "hello ada"
