"""An app sets Python's collector for many live processes while it runs (issue 15, 6).

10,000 Lua processes spawned inside an app took seconds where ``bench/lua.py``
took 0.4 s: every live process is a few dozen objects the cyclic collector
tracks, and with CPython's thresholds each full collection walked all of them
and the whole heap the app had before it started.  While an app runs, that
heap is frozen and the thresholds are raised (:mod:`actors.gcsettings`);
the last app to stop puts them back.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from pathlib import Path

import pytest

from actorflow.app import App
from actors import gcsettings

from .lua_support import lua_entry, write_app

FILES = {
    "main.lua": """
    return {main = function(count)
      local ups = process.listen("up")
      local children = {}
      for i = 1, count do children[i] = process.spawn("app:child", "app:processes", process.pid()) end
      for _ = 1, count do ups:receive() end
      for i = 1, count do process.terminate(children[i]) end
      return count
    end}
    """,
    "child.lua": """
    return {main = function(parent)
      process.send(parent, "up", true)
      process.listen("never"):receive()
    end}
    """,
}


@pytest.fixture
def app_dir(tmp_path: Path) -> Path:
    host = {"name": "processes", "kind": "process.host", "host": {"workers": 32}}
    return write_app(tmp_path, [host, lua_entry("main"), lua_entry("child")], FILES)


@pytest.fixture
def default_collector() -> Iterator[tuple[int, ...]]:
    """The collector as a test starts it: CPython's thresholds, nothing frozen; restored after."""
    assert gcsettings.running() == 0, "another app of the test session still runs"
    saved = gc.get_threshold()
    gc.unfreeze()
    gc.set_threshold(700, 10, 10)
    yield gc.get_threshold()
    gc.set_threshold(*saved)


def test_a_running_app_freezes_the_heap_it_started_with_and_raises_the_thresholds(
    app_dir: Path, default_collector: tuple[int, ...]
) -> None:
    with App(app_dir, extensions=[]) as app:
        assert gc.get_threshold() == gcsettings.THRESHOLDS
        assert gc.get_freeze_count() > 10_000  # the modules, the registry: never walked again
        collections = gc.get_stats()[2]["collections"]
        assert app.exec("app:main", 5_000, timeout=60) == 5_000
        # 5,000 live processes, then their end: no full collection walked them.
        assert gc.get_stats()[2]["collections"] == collections
    assert gc.get_threshold() == default_collector
    assert gc.get_freeze_count() == 0


def test_the_last_of_two_apps_to_stop_restores_the_collector(
    app_dir: Path, default_collector: tuple[int, ...]
) -> None:
    first = App(app_dir, extensions=[]).start()
    second = App(app_dir, extensions=[]).start()
    try:
        first.stop()
        assert gc.get_threshold() == gcsettings.THRESHOLDS  # the second still runs
    finally:
        second.stop()
        first.stop()
    assert gc.get_threshold() == default_collector
    assert gc.get_freeze_count() == 0
