"""What ``actorflow ps`` shows of a process: its mailbox and whether it waits to run.

``ps`` reads a snapshot of each process without stopping it
(``Process.mailbox_snapshot`` plus the messages its router holds for topics
nobody listens to yet).  Here one worker is held busy, so messages sent to a
second actor wait in its mailbox, and ``ps`` must count them and call the
actor runnable; once the worker is free they are handled and ``ps`` says so.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from actorflow import _inspect
from actorflow.app import App
from actorflow.pytest_plugin import running_app, wait_until
from actors import PID, Actor

HOST = "app:processes"


class Holder(Actor):
    """Holds its worker until ``release`` is set."""

    def __init__(self, holding: threading.Event, release: threading.Event) -> None:
        super().__init__()
        self.holding, self.release = holding, release

    def on_receive(self, message: Any) -> None:
        self.holding.set()
        self.release.wait(30)


class Counter(Actor):
    def __init__(self) -> None:
        super().__init__()
        self.seen = 0

    def on_receive(self, message: Any) -> None:
        self.seen += 1


@pytest.fixture
def app(tmp_path: Path) -> Iterator[App]:
    directory = tmp_path / "app"
    directory.mkdir()
    (directory / "app.yaml").write_text(
        "namespace: app\nentries:\n  - {name: processes, kind: process.host, host: {workers: 1}}\n"
    )
    with running_app(directory, state_dir=tmp_path / "state") as running:
        yield running


def row(app: App, pid: PID) -> dict[str, Any]:
    [found] = [item for item in _inspect.processes(app) if item["pid"] == str(pid)]
    return found


def test_ps_counts_the_messages_waiting_in_a_mailbox_and_shows_the_process_runnable(app: App) -> None:
    node = app.require_node()
    holding, release = threading.Event(), threading.Event()
    holder = node.spawn(Holder, holding, release, host=HOST)
    counter = node.spawn(Counter, host=HOST)
    wait_until(lambda: row(app, counter)["status"] == "waiting", what="the counter started")
    try:
        node.send(holder, "hold")
        assert holding.wait(10), "the holder never got its worker"
        for index in range(3):
            node.send(counter, "count", index)
        assert (row(app, counter)["mailbox"], row(app, counter)["status"]) == (3, "runnable")
    finally:
        release.set()
    wait_until(lambda: (row(app, counter)["mailbox"], row(app, counter)["status"]) == (0, "waiting"))
