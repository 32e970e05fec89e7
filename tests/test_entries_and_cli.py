"""Loading apps (every mistake reported with file, line and entry) and the CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from actors.entries import AppLoadError, load_app

ROOT = Path(__file__).resolve().parents[1]


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_all_problems_are_reported_at_once_with_file_line_and_entry(tmp_path: Path) -> None:
    write(
        tmp_path / "app.yaml",
        """namespace: app
entries:
  - name: processes
    kind: process.host
  - name: worker
    kind: process.lua
    source: file://missing.lua
  - name: strange
    kind: process.teleport
  - name: nosource
    kind: function.lua
  - name: listed
    kind: process.lua
    source: file://ok.lua
    modules: [time, teleport]
""",
    )
    write(tmp_path / "ok.lua", "return function() end")
    write(
        tmp_path / "more/other.yaml",
        """namespace: app
entries:
  - name: worker
    kind: process.lua
    source: file://../ok.lua
  - kind: process.lua
""",
    )
    write(tmp_path / "broken.yaml", "namespace: app\nentries:\n  - name: [unclosed\n")
    write(tmp_path / "bad_syntax.lua", "return function()\n  local x = \nend\n")
    write(
        tmp_path / "lua.yaml",
        "namespace: app.lua\nentries:\n  - name: broken\n    kind: process.lua\n    source: file://bad_syntax.lua\n",
    )
    with pytest.raises(AppLoadError) as info:
        load_app(tmp_path)
    problems = [str(problem) for problem in info.value.problems]
    assert info.value.kind() == "INVALID"
    assert "app.yaml:5: app:worker: source file missing.lua not found" in problems
    assert any(p.startswith("app.yaml:8: app:strange: unknown kind 'process.teleport'") for p in problems)
    assert "app.yaml:10: app:nosource: missing required field 'source'" in problems
    assert any(p.startswith("app.yaml:12: app:listed: module 'teleport' is not available") for p in problems)
    assert any(
        p.startswith("more/other.yaml:3: app:worker: duplicate entry ID (first declared at app.yaml:5)")
        for p in problems
    )
    assert "more/other.yaml:6: entry without a 'name'" in problems
    assert (
        "broken.yaml:4: invalid YAML: expected ',' or ']', but got '<stream end>' "
        "(while parsing a flow sequence at line 3)" in problems
    )
    assert (
        "lua.yaml:3: app.lua:broken: Lua syntax error: bad_syntax.lua:3: unexpected symbol near 'end'"
        in problems
    )
    assert len(problems) == 8
    assert "8 problems" in info.value.message()


def test_references_are_checked_and_resolved_in_the_entry_namespace(tmp_path: Path) -> None:
    from actors.entries import KindSpec, register_kind

    register_kind(
        KindSpec("test.wrapper", references={"process": ("process.lua",), "host": ("process.host",)})
    )
    write(
        tmp_path / "app.yaml",
        """namespace: app.workers
entries:
  - name: processes
    kind: process.host
  - name: handler
    kind: process.lua
    source: file://h.lua
  - name: svc
    kind: test.wrapper
    process: handler
    host: app:processes
  - name: svc2
    kind: test.wrapper
    process: app.workers:processes
    host: processes
""",
    )
    write(tmp_path / "h.lua", "return function() end")
    with pytest.raises(AppLoadError) as info:
        load_app(tmp_path)
    problems = [str(problem) for problem in info.value.problems]
    assert any("app.workers:svc: host references unknown entry 'app:processes'" in p for p in problems)
    assert any(
        "app.workers:svc2: process references 'app.workers:processes' of kind 'process.host'" in p
        for p in problems
    )


def test_seed_style_list_file_uses_the_app_namespace(tmp_path: Path) -> None:
    write(
        tmp_path / "entries.yaml",
        """- name: processes
  kind: process.host
- name: session_handler
  kind: process.lua
  source: file://session_handler.lua
  method: main
""",
    )
    write(tmp_path / "session_handler.lua", "return {main = function() end}")
    registry = load_app(tmp_path)
    entry = registry.require("app:session_handler")
    assert (entry.kind, entry.method, entry.line) == ("process.lua", "main", 3)


def run_cli(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "actorflow.cli", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
    )


def test_cli_exec_prints_the_result_as_json_on_the_last_line(tmp_path: Path) -> None:
    write(
        tmp_path / "app.yaml",
        """namespace: app
entries:
  - name: processes
    kind: process.host
  - name: main
    kind: process.lua
    source: file://main.lua
    modules: [logger]
""",
    )
    write(
        tmp_path / "main.lua",
        """local logger = require("logger")
return {main = function(name, numbers)
  logger:info("summing", {count = #numbers})
  local total = 0
  for _, n in ipairs(numbers) do total = total + n end
  return {greeting = "hello " .. name, total = total}
end}
""",
    )
    result = run_cli("exec", str(tmp_path), "app:main", '"ada"', "[1, 2, 3]")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1]) == {"greeting": "hello ada", "total": 6}
    assert "running app:main" in result.stderr
    assert "summing count=3" in result.stderr


def test_cli_exec_failure_exits_1_with_kind_and_message(tmp_path: Path) -> None:
    write(
        tmp_path / "app.yaml",
        "namespace: app\nentries:\n  - name: main\n    kind: process.lua\n    source: file://m.lua\n",
    )
    write(
        tmp_path / "m.lua",
        "return {main = function() return nil, errors.new({kind = errors.CONFLICT, message = 'busy'}) end}",
    )
    result = run_cli("-q", "exec", str(tmp_path), "app:main")
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.strip().splitlines()[-1] == "error: CONFLICT: busy"


def test_cli_reports_app_problems_and_bad_arguments(tmp_path: Path) -> None:
    write(tmp_path / "app.yaml", "namespace: app\nentries:\n  - name: main\n    kind: process.lua\n")
    result = run_cli("exec", str(tmp_path), "app:main")
    assert result.returncode == 1
    assert "app.yaml:3: app:main: missing required field 'source'" in result.stderr
    write(
        tmp_path / "app.yaml",
        "namespace: app\nentries:\n  - name: main\n    kind: process.lua\n    source: 'return function() end'\n",
    )
    bad = run_cli("exec", str(tmp_path), "app:main", "{not json")
    assert bad.returncode == 1 and "argument 1 is not JSON" in bad.stderr
    missing = run_cli("exec", str(tmp_path), "app:nope")
    assert missing.returncode == 1 and "error: NOT_FOUND: entry 'app:nope' not found" in missing.stderr
    checked = run_cli("check", str(tmp_path))
    assert checked.returncode == 0 and "1 entries, all valid" in checked.stderr
