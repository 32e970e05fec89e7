"""The Wippy-style sample apps of examples/, run as a user would, their output checked."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run_example(
    tmp_path: Path, name: str, entry: str, stdin: str, *args: str
) -> subprocess.CompletedProcess[str]:
    app_dir = tmp_path / name
    if not app_dir.exists():  # a copy: its database and state stay out of the repository
        shutil.copytree(ROOT / "examples" / name, app_dir)
    return subprocess.run(
        [sys.executable, "-m", "actorflow.cli", "exec", str(app_dir), entry, *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=90,
    )


def test_the_todo_project_runs_its_cli_services_database_events_and_queue(tmp_path: Path) -> None:
    commands = "about\nadd buy milk\nadd write report\nadd\ndone 1\ndone 1\nlist\nstats\n"
    done = run_example(tmp_path, "wippy_todo", "app:cli", commands)
    assert done.stdout == (
        "todo: hello\n"
        "services: app:auditor, app:store\n"
        "added #1 [ ] buy milk\n"
        "added #2 [ ] write report\n"
        "error: a to-do needs a title\n"
        "done #1\n"
        "error: no open to-do #1\n"
        "#1 [x] buy milk\n"
        "#2 [ ] write report\n"
        "1 open to-do\n"
        "audit\tadded\t2\n"
        "audit\tdone\t1\n"
        "events\t2\t1\n"
    ), done.stderr
    assert done.returncode == 1  # one open to-do
    # the services log through logger (stderr), and nothing failed on the way
    assert "store" in done.stderr and "ready" in done.stderr and "notified" in done.stderr
    assert "Traceback" not in done.stderr and "ERROR" not in done.stderr
    # the to-dos are in the project's SQLite file: a second run starts from them (migrations not rerun)
    again = run_example(tmp_path, "wippy_todo", "app:cli", "done 2\nlist\n")
    assert again.stdout == "done #2\n#1 [x] buy milk\n#2 [x] write report\n0 open to-dos\n", again.stderr
    assert again.returncode == 0


def test_the_ledger_app_books_queued_lines_and_reports_totals(tmp_path: Path) -> None:
    import hashlib

    lines = "2025-01-02,alice,12.50\n2025-01-02,bob,3\n2025-01-03,alice,0.5\nnonsense\n2025-01-04,bob,1.25\n"
    done = run_example(tmp_path, "wippy_ledger", "app:cli", lines)
    report = "queued: 5\nbooked: 4\nrejected: 1\ntotals:\n  alice: 13.00 EUR\n  bob: 4.25 EUR\n"
    checksum = hashlib.sha256(report.encode()).hexdigest()[:16]
    assert done.stdout == report + f"sha256: {checksum}\n", done.stderr
    assert done.returncode == 1  # one rejected line
    assert "rejected line=nonsense" in done.stderr  # the totals service's warning
    assert "Traceback" not in done.stderr
