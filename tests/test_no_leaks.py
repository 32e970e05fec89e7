"""After everything stops, nothing is left behind: processes, threads, timers."""

from __future__ import annotations

import gc
import threading
import time

from actors import Actor, Node, Probe

from .helpers import obeys_cancel, waits


class Child(Actor):
    pass


class Parent(Actor):
    def on_start(self) -> None:
        self.trap_links = True
        for _ in range(20):
            self.spawn(Child, link=True, monitor=True)
            self.spawn(waits, link=True)


def test_a_stopped_tree_leaves_nothing_behind() -> None:
    threads_before = threading.active_count()
    node = Node(workers=2)
    with Probe(node, trap_links=True) as probe:
        baseline = node.process_count()
        parents = [probe.spawn(Parent, link=True) for _ in range(10)]
        cancelled = [probe.spawn(obeys_cancel) for _ in range(10)]
        for pid in cancelled:
            probe.cancel(pid, deadline=10.0)
        deadline = time.monotonic() + 5
        while node.process_count() < baseline + 10 * 41 and time.monotonic() < deadline:
            time.sleep(0.01)
        for pid in parents:
            probe.terminate(pid)
        deadline = time.monotonic() + 5
        while node.process_count() > baseline and time.monotonic() < deadline:
            time.sleep(0.01)
        assert node.process_count() == baseline
        assert node.timers.pending_count() == 0
    node.shutdown(timeout=1)
    gc.collect()
    deadline = time.monotonic() + 5
    while threading.active_count() > threads_before and time.monotonic() < deadline:
        time.sleep(0.01)
    assert threading.active_count() == threads_before
