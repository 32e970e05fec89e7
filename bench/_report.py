"""Shared by the bench scripts: how a run is described and written to docs/benchmarks.md.

Each script owns one section of the file, between ``<!-- NAME:start -->`` and
``<!-- NAME:end -->``; ``--write`` replaces just that section, so the
scripts can be rerun one at a time without touching each other's figures.
"""

from __future__ import annotations

import os
import platform
import time
from collections.abc import Sequence
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md"


def run_line(how: str) -> str:
    """``Run on <date>: <machine>, <cores>, Python <version>; <how>.`` for a section's first line."""
    return (
        f"Run on {time.strftime('%Y-%m-%d')}: {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}; {how}."
    )


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """A Markdown table, one line per row."""
    return [
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
        *("| " + " | ".join(str(cell) for cell in row) + " |" for row in rows),
    ]


def write_section(name: str, heading: str, lines: Sequence[str], *, before: str | None = None) -> None:
    """Replace section ``name`` of docs/benchmarks.md with ``lines``.

    A section not yet in the file is added under ``## heading``: just before
    the heading ``before`` when that is given and present, else at the end.
    """
    begin, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    block = "\n".join([begin, *lines, end])
    text = BENCHMARKS.read_text() if BENCHMARKS.exists() else "# Benchmarks\n"
    if begin in text:
        text = text.split(begin)[0] + block + text.split(end)[1]
    elif before is not None and f"\n## {before}\n" in text:
        text = text.replace(f"\n## {before}\n", f"\n## {heading}\n\n{block}\n\n## {before}\n", 1)
    else:
        text = text.rstrip() + f"\n\n## {heading}\n\n{block}\n"
    BENCHMARKS.write_text(text)
    print(f"wrote {BENCHMARKS}")
