"""The soak under chaos (issue 12, "Then prove it" 1), bounded for ``make test``.

Lua and Python processes under one_for_one supervisors exchange messages while
a chaos process kills random workers; every message to a process alive until
it received it arrives exactly once and in per-sender order, every kill is one
restart of that child only, and processes, threads, the live Python heap and
the runtime's objects return to their baseline (``tests/soak_support.py``).

``make test`` runs 2,000 workers and 100,000 messages (about 15 s alone); the
full run (10,000 workers, 1,000,000 messages) is::

    ACTORFLOW_SOAK_WORKERS=10000 ACTORFLOW_SOAK_MESSAGES=1000000 \\
        .venv/bin/python tests/run.py tests/test_soak_chaos.py -q -s

or ``python tests/soak_support.py`` for the table of figures.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator

import pytest

from .soak_support import Ledger, Outcome, _check_supervisors, run, verify

WORKERS = int(os.environ.get("ACTORFLOW_SOAK_WORKERS", "2000"))
MESSAGES = int(os.environ.get("ACTORFLOW_SOAK_MESSAGES", "100000"))
SUPERVISORS = max(1, WORKERS // 100)


@pytest.fixture
def quiet_supervisors() -> Iterator[None]:
    """Each kill is a supervisor's warning: thousands of lines nobody reads."""
    supervision = logging.getLogger("supervision")
    level = supervision.level
    supervision.setLevel(logging.ERROR)
    yield
    supervision.setLevel(level)


def test_no_message_is_lost_doubled_or_reordered_while_workers_are_killed(quiet_supervisors: None) -> None:
    outcome = run(
        workers=WORKERS,
        messages=MESSAGES,
        supervisors=SUPERVISORS,
        deadline=60.0 + WORKERS * MESSAGES / 2e6,
        progress=print,
    )
    print(outcome)
    assert outcome.problems == []
    # The load and the faults were real: the target went through, workers died and came back,
    # and some messages died with their receivers (the one loss the rules allow).
    assert outcome.messages_sent >= MESSAGES
    assert outcome.messages_got >= MESSAGES * 0.8
    assert outcome.killed >= WORKERS // 10
    assert outcome.restarts == outcome.killed
    assert outcome.lost_to_killed_receivers > 0
    assert outcome.processes_after == outcome.processes_before
    assert outcome.threads_after <= outcome.threads_before


# -- the checker's own tests: it refuses what it must refuse --------------------------------------


def _ledger(got: list[int], sent: int, killed: bool = False) -> Ledger:
    ledger = Ledger()
    ledger.sent["A", "B"] = sent
    ledger.got["B", "A"].extend(got)
    if killed:
        ledger.killed.add("B")
    return ledger


@pytest.mark.parametrize(
    ("got", "sent", "killed", "problem"),
    [
        ([1, 2, 4], 4, False, "lost, doubled or reordered"),  # a gap
        ([1, 2, 2, 3], 3, False, "lost, doubled or reordered"),  # twice
        ([1, 3, 2], 3, False, "lost, doubled or reordered"),  # out of order
        ([1, 2], 3, False, "3 went through, 2 arrived"),  # a receiver alive to the end missed one
        ([1, 3], 3, True, "lost, doubled or reordered"),  # a killed receiver still gets them in order
    ],
)
def test_the_checker_finds_a_lost_doubled_or_reordered_message(
    got: list[int], sent: int, killed: bool, problem: str
) -> None:
    outcome = Outcome()
    verify(outcome, _ledger(got, sent, killed))
    assert len(outcome.problems) == 1 and problem in outcome.problems[0], outcome.problems


def test_the_checker_allows_what_a_killed_receiver_never_read_and_a_sender_killed_before_recording() -> None:
    killed, late = Outcome(), Outcome()
    verify(killed, _ledger([1, 2], 5, killed=True))  # 3-5 were in its mailbox when it was killed
    verify(late, _ledger([1, 2, 3], 2))  # the sender died between sending 3 and recording it
    assert killed.problems == late.problems == []
    assert killed.lost_to_killed_receivers == 3


def test_the_checker_finds_a_restart_the_policy_does_not_explain() -> None:
    ledger = Ledger()
    ledger.incarnations["w1"] = ["p1", "p2", "p3"]  # three incarnations, one kill: a sibling's restart
    ledger.killed.add("p1")
    tree = {
        "pid": "s",
        "status": "running",
        "children": [{"id": "w1", "pid": "p3", "status": "running", "restarts": 2, "last_error": None}],
    }
    outcome = Outcome()
    _check_supervisors(outcome, ledger, [tree])
    assert "w1: 2 restarts for 1 incarnations killed" in outcome.problems
    assert "w1: 3 incarnations for 1 killed (one_for_one: one each)" in outcome.problems
