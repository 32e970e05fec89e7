"""Durability under faults (issue 12, "Then prove it", 2).

Sagas in flight on a worker OS process that is SIGKILLed three times, against
a Temporal dev server (its own OS process, SQLite state) restarted once, while
a client sends each saga numbered signals, some while no worker runs:
``tests/durability_scenario.py`` runs it and checks the ledger the steps write
against the sagas' results and Temporal's histories.

``make test`` runs the bounded mode: 50 sagas (250 steps, 400 signals), the
same three kills and server restart and every check, in 16-20 s on the
project's 2-core machine.  The issue's 200 sagas take 40-70 s alone and more
on a busy machine, too much of the suite's budget for what more sagas add
(50 already keep the worker's activity slots full through every fault); they
run by flag (results in docs/reliability.md)::

    ACTORFLOW_DURABILITY_SAGAS=200 .venv/bin/python tests/run.py tests/test_durability_faults.py
    .venv/bin/python tests/durability_scenario.py --sagas 200    # prints the report
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.durability_scenario import (
    SIGNALS,
    SIGNALS_PER_STEP,
    START_TO_CLOSE,
    STEPS,
    Fault,
    Run,
    classify,
    run_scenario,
)

BOUNDED_SAGAS = 50
SAGAS = int(os.environ.get("ACTORFLOW_DURABILITY_SAGAS", "0") or 0) or BOUNDED_SAGAS


@pytest.mark.temporal("dev")
@pytest.mark.timeout(900 if SAGAS > BOUNDED_SAGAS else 300)
def test_sagas_survive_three_worker_kills_and_a_server_restart(tmp_path: Path) -> None:
    report = run_scenario(tmp_path, SAGAS, timeout=840 if SAGAS > BOUNDED_SAGAS else 240)
    print(report.table())

    assert report.lost == []
    assert report.unexplained == []
    assert report.disorder == []
    assert report.completed == SAGAS
    assert report.steps_completed == SAGAS * len(STEPS)
    assert report.sagas_with_signals_in_order == SAGAS
    assert report.signals_sent == SAGAS * SIGNALS
    # three of the four rounds were sent while no worker process existed
    assert report.signals_sent_while_no_worker == SAGAS * SIGNALS_PER_STEP * 3

    kills = [fault for fault in report.faults if fault["kind"] == "kill"]
    restarts = [fault for fault in report.faults if fault["kind"] == "server restart"]
    assert [fault["step"] for fault in kills] == ["reserve", "charge", "ship"]
    assert [fault["step"] for fault in restarts] == ["pack"]
    # Each kill landed mid-step: it left runs that never ended, and those steps
    # were run again (nothing is lost above), counted as retried after a kill.
    assert all(fault["interrupted"] >= 1 for fault in kills), kills
    assert report.retried_after_kill >= report.interrupted_runs >= 3
    assert report.retried_after_kill + report.retried_after_server_restart == report.runs - SAGAS * len(STEPS)
    # (verify() checked each retried step against Temporal: one completion, by
    # the worker of the last run, at an attempt counting every run: the earlier
    # runs were never recorded.)
    assert report.attempts_over_one >= 3
    assert restarts[0]["in_flight"] >= 1


# -- the checker itself: a duplicate no fault explains is reported ------------------------------------


KILL = Fault("kill", "charge", began=100.0, ended=100.1, worker=11)
RESTART = Fault("server restart", "pack", began=200.0, ended=202.0)


def runs(*spec: tuple[int, float, float | None]) -> list[Run]:
    """Runs of one step of one saga: (worker, began, ended) each."""
    return [
        Run("order-saga-0001", "charge", number, worker, began, ended)
        for number, (worker, began, ended) in enumerate(spec, start=1)
    ]


@pytest.mark.parametrize(
    ("spec", "faults", "explained_by"),
    [
        # killed mid-step, run again by the next worker
        (((11, 99.9, None), (12, 105.0, 105.2)), [KILL], KILL),
        # ended just before the kill, before Temporal recorded it
        (((11, 99.5, 99.7), (12, 105.0, 105.2)), [KILL], KILL),
        # a run still going when the server stopped
        (((13, 199.9, None), (13, 206.0, 206.2)), [RESTART], RESTART),
        # no fault at all: a duplicate
        (((11, 99.9, None), (12, 105.0, 105.2)), [], None),
        # another worker was killed, not this run's
        (((12, 99.9, None), (12, 105.0, 105.2)), [KILL], None),
        # begun after the kill: that kill cannot have stopped it
        (((11, 100.2, None), (12, 105.0, 105.2)), [KILL], None),
        # ended longer before the kill than a start-to-close timeout: Temporal
        # would have retried it without any kill, so the kill explains nothing
        (((11, 90.0, 100.0 - START_TO_CLOSE - 0.5), (12, 105.0, 105.2)), [KILL], None),
        # began after the server was back
        (((13, 202.5, None), (13, 206.0, 206.2)), [RESTART], None),
    ],
)
def test_the_checker_explains_a_rerun_only_by_a_fault_that_hit_it(
    spec: tuple[tuple[int, float, float | None], ...], faults: list[Fault], explained_by: Fault | None
) -> None:
    by_step, earlier = classify(runs(*spec), faults)
    assert [len(group) for group in by_step.values()] == [len(spec)]
    assert [(run.run, fault) for run, fault in earlier] == [(1, explained_by)]
