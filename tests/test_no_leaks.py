"""After everything stops, nothing is left behind: processes, threads, timers."""

from __future__ import annotations

import gc
import threading
import time
from pathlib import Path
from typing import Any

from actorflow.app import App
from actorflow.pytest_plugin import wait_until
from actors import Actor, Node, Probe

from .helpers import obeys_cancel, waits
from .lua_support import HOST, lua_entry, write_app


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
        wait_until(lambda: not any(node.is_alive(pid) for pid in cancelled), what="the cancelled ones end")
        # Every parent has started its 40 children: the whole tree is up before it is torn down.
        wait_until(lambda: node.process_count() == baseline + 10 * 41, what="the ten trees are up")
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


async def says_up(proc: Any, observer: str) -> None:
    proc.send(observer, "up")


def test_an_ended_process_is_freed_at_once_not_left_to_the_cyclic_gc(tmp_path: Path) -> None:
    """Lua and coroutine processes that end leave no reference cycle behind: refcounting
    frees them when they end, so a spawn-heavy node does not feed the cyclic GC."""
    app_dir = write_app(
        tmp_path,
        [HOST, lua_entry("quick")],
        {"quick.lua": "return {main = function(observer) process.send(observer, 'up') end}"},
    )
    with App(app_dir, extensions=[]) as app:
        assert app.node is not None
        with Probe(app.node, default_timeout=10) as probe:
            observer = str(probe.pid)
            probe.spawn("app:quick", observer)  # warm up: the Lua state pool, caches
            probe.spawn(says_up, observer)
            probe.expect_message("up")
            probe.expect_message("up")
            gc.collect()
            gc.disable()
            gc.set_debug(gc.DEBUG_SAVEALL)
            try:
                for _ in range(50):
                    probe.spawn("app:quick", observer)
                    probe.spawn(says_up, observer)
                for _ in range(100):
                    probe.expect_message("up")
                wait_until(lambda: app.node.process_count() == 1, what="only the probe is left")
                gc.collect()
                left = sorted({type(obj).__qualname__ for obj in gc.garbage})
            finally:
                gc.set_debug(0)
                gc.garbage.clear()
                gc.enable()
    assert left == []
