"""`actorflow check` on Wippy apps: kinds actorflow lacks, typos, and a Wippy project root."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import wippy_compat  # noqa: F401  (registers the kinds, as actorflow check does)
from actors.entries import AppLoadError, load_app


def write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def check(app_dir: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "actorflow.cli", "check", str(app_dir)],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_a_wippy_kind_actorflow_lacks_says_so_and_a_typo_gets_the_nearest_kind(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "app.yaml": """namespace: app
entries:
  - name: bucket
    kind: cloudstorage.s3
  - name: templates
    kind: template.set
  - name: worker
    kind: proces.lua
    source: file://w.lua
  - name: cache
    kind: store.memroy
  - name: thing
    kind: frobnicator
  - name: dep.http
    kind: ns.dependency
    component: acme/http
    version: "*"
""",
            "w.lua": "return function() end\n",
        },
    )
    with pytest.raises(AppLoadError) as info:
        load_app(tmp_path)
    messages = {problem.entry_id: (problem.line, problem.message) for problem in info.value.problems}
    assert messages["app:bucket"] == (
        3,
        "kind 'cloudstorage.s3' is a Wippy kind that actorflow does not implement "
        "(docs/coming-from-wippy.md lists what is supported)",
    )
    assert messages["app:templates"][1].startswith(
        "kind 'template.set' is a Wippy kind that actorflow does not"
    )
    assert messages["app:worker"] == (7, "unknown kind 'proces.lua': did you mean 'process.lua'?")
    assert messages["app:cache"][1] == (
        "unknown kind 'store.memroy': did you mean 'store.memory', a Wippy kind actorflow does not implement?"
    )
    assert messages["app:thing"][1].startswith("unknown kind 'frobnicator' (known: ")
    assert messages["app:dep.http"][1] == (
        "component 'acme/http' is a Wippy hub module actorflow does not have "
        "(hub modules are not supported; bundled: wippy/migration)"
    )


PROJECT = {
    "wippy.lock": "directories:\n  modules: .wippy\n  src: ./src\n",
    "wippy.yaml": 'version: "1.0"\nshutdown:\n  timeout: 5s\n',
    ".wippy.yaml": "logger:\n  encoding: json\n",
    ".wippy/vendor/mod/_index.yaml": "this: is [not an app",
    "src/_index.yaml": """version: "1.0"
namespace: app
entries:
  - name: terminal
    kind: terminal.host
    lifecycle:
      auto_start: true
  - name: main
    kind: process.lua
    source: file://main.lua
    method: main
    modules: [io]
    imports:
      util: app.lib:util
""",
    "src/lib/_index.yaml": """version: "1.0"
namespace: app.lib
entries:
  - name: util
    kind: library.lua
    source: file://util.lua
""",
    "src/lib/util.lua": "local M = {}\nfunction M.twice(x: number): number return x * 2 end\nreturn M\n",
    "src/main.lua": """local io = require("io")
local util = require("util")
local function main(): integer
  io.print(util.twice(21))
  return 0
end
return {main = main}
""",
}


def test_check_at_a_wippy_project_root_reads_the_source_directory(tmp_path: Path) -> None:
    write(tmp_path, PROJECT)
    done = check(tmp_path)
    assert done.returncode == 0, done.stderr
    assert "3 entries, all valid" in done.stderr
    run = subprocess.run(
        [sys.executable, "-m", "actorflow.cli", "-q", "exec", str(tmp_path), "app:main"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (run.returncode, run.stdout) == (0, "42\n"), run.stderr


def test_a_project_root_whose_source_directory_is_missing_says_so(tmp_path: Path) -> None:
    write(tmp_path, {"wippy.lock": "directories:\n  src: ./code\n", "wippy.yaml": "version: '1.0'\n"})
    done = check(tmp_path)
    assert done.returncode == 1
    assert (
        "wippy.lock:1: this is a Wippy project root, but its source directory ./code does not exist"
        in done.stderr
    )
