"""A user's tests, written against actorflow's pytest plugin only (see docs/testing.md).

Run them with plain ``pytest`` in this directory: pytest.ini names the app the
``app`` fixture starts (``trial/``), ``--temporal`` chooses the server.
"""

from __future__ import annotations

import time

import pytest
from shop import checkout

from actorflow.app import App
from actorflow.pytest_plugin import wait_until
from actors import PID, Node, Probe, errors
from supervision import SupervisorRef, start_supervisor

# -- a supervision tree, Python only ----------------------------------------------------------------


def test_a_crashed_cashier_is_replaced(node: Node, probe: Probe) -> None:
    supervisor = start_supervisor(node, checkout())
    [first] = supervisor.which_children()
    probe.monitor(first["pid"])
    probe.send(first["pid"], "jam", "coin stuck")

    crash = probe.expect_exit(first["pid"])  # the monitor's EXIT, with the crash as its error
    assert crash.error is not None and "till jammed: coin stuck" in crash.error.message()
    replacement = wait_until(lambda: running_cashier(supervisor, crashed=[first["pid"]]))
    probe.send(replacement, "total", [3, 4])
    assert probe.expect_message("total").payload == 7  # the new cashier works
    supervisor.stop()


def test_a_checkout_that_gives_up_takes_its_linked_caller_down(node: Node, probe: Probe) -> None:
    # The probe traps links: the supervisor's end arrives as a LINK_DOWN message.
    with probe.acting():
        supervisor = start_supervisor(node, checkout(), link=True)
    crashed: list[PID] = []
    for _ in range(3):  # one crash more than max_restarts allows
        pid = wait_until(lambda: running_cashier(supervisor, crashed))
        crashed.append(pid)
        probe.send(pid, "jam", "again")

    down = probe.expect_link_down(supervisor.pid)
    assert down.error is not None and down.error.kind() == errors.LIMIT_EXCEEDED
    assert "more than 2 restarts in 5 s" in down.error.message()
    assert probe.alive  # trapping, the probe lives on


def running_cashier(supervisor: SupervisorRef, crashed: list[PID]) -> PID | None:
    """The cashier's PID once the supervisor has started one that has not crashed, else None."""
    [child] = supervisor.which_children()
    return child["pid"] if child["pid"] is not None and child["pid"] not in crashed else None


# -- a workflow: days of durable sleep in moments ----------------------------------------------------


@pytest.mark.temporal("time-skipping")
def test_a_trial_is_charged_after_fourteen_days(app: App, probe: Probe) -> None:
    started = time.monotonic()
    trial = probe.spawn(
        "app:trial_workflow", {"customer": "ada", "days": 14, "price": 9}, host="app:worker", monitor=True
    )
    result = probe.expect_exit(trial).value
    assert result == {"customer": "ada", "status": "charged", "receipt": "rcpt-ada-9", "after_days": 14}
    assert time.monotonic() - started < 30  # fourteen days on the workflow's clock, seconds on ours


@pytest.mark.temporal  # whatever server --temporal names
def test_a_cancelled_trial_is_not_charged(app: App, probe: Probe) -> None:
    trial = probe.spawn(
        "app:trial_workflow", {"customer": "grace", "days": 14, "price": 9}, host="app:worker"
    )
    probe.send(trial, "cancel")
    probe.monitor(trial)  # after the cancel: on the time-skipping server, waiting lets time run
    assert probe.expect_exit(trial).value == {"customer": "grace", "status": "cancelled", "after_days": 0}
