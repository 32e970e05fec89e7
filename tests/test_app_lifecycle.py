"""An app's parts start in dependency order and stop in reverse, one level in parallel."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest

from actorflow.app import App
from actors import errors
from actors.entries import AppLoadError


def write_app(root: Path, yaml: str, files: dict[str, str] | None = None) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "app.yaml").write_text(yaml)
    for name, text in (files or {}).items():
        (root / name).write_text(text)
    return root


# A service that ignores CANCEL: only its stop_timeout's termination ends it.
STUBBORN = """
local time = require("time")
return function()
    local events = process.events()
    while true do events:receive() end
end
"""


def test_entries_start_after_what_they_require_and_stop_in_reverse(tmp_path: Path) -> None:
    app_dir = write_app(
        tmp_path / "app",
        """
namespace: app
entries:
  - {name: processes, kind: process.host}
  - {name: worker, kind: process.lua, source: file://stubborn.lua, modules: [time]}
  - name: c
    kind: process.service
    process: app:worker
    host: app:processes
    lifecycle: {auto_start: true, depends_on: [app:b], stop_timeout: 0.2s}
  - name: b
    kind: process.service
    process: app:worker
    host: app:processes
    lifecycle: {auto_start: true, depends_on: [app:a], stop_timeout: 0.2s}
  - name: a
    kind: process.service
    process: app:worker
    host: app:processes
    lifecycle: {auto_start: true, stop_timeout: 0.2s}
  - name: gateway
    kind: http.service
    addr: "127.0.0.1:0"
    lifecycle: {depends_on: [app:c]}
""",
        {"stubborn.lua": STUBBORN},
    )
    lines: list[str] = []
    app = App(app_dir, progress=lines.append)
    app.start()
    try:
        started = [line.split()[-2] if "service" in line else line.split()[1] for line in lines]
        assert started == ["host", "app:a", "app:b", "app:c", "app:gateway"], lines
    finally:
        app.stop()
    states = app.runner.states
    assert all(state == "stopped" for state in states.values()), states


def test_a_cycle_of_requirements_is_refused_naming_it(tmp_path: Path) -> None:
    app_dir = write_app(
        tmp_path / "app",
        """
namespace: app
entries:
  - {name: worker, kind: process.lua, source: "return function() end"}
  - {name: a, kind: process.service, process: app:worker, host: app:processes,
     lifecycle: {auto_start: true, depends_on: [app:gateway]}}
  - {name: gateway, kind: http.service, addr: "127.0.0.1:0", lifecycle: {depends_on: [app:a]}}
  - {name: processes, kind: process.host}
""",
    )
    app = App(app_dir)
    with pytest.raises(errors.Error) as caught:
        app.start()
    assert caught.value.kind() == errors.INVALID
    assert "cycle: app:a → app:gateway → app:a" in caught.value.message()
    assert app.node is None


def test_a_required_entry_that_fails_stops_the_app_and_an_optional_one_does_not(tmp_path: Path) -> None:
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen()
    port = busy.getsockname()[1]
    try:
        template = """
namespace: app
entries:
  - {{name: processes, kind: process.host}}
  - {{name: gateway, kind: http.service, addr: "127.0.0.1:{port}", lifecycle: {{startup: {mode}}}}}
"""
        required = write_app(tmp_path / "required", template.format(port=port, mode="required"))
        app = App(required)
        with pytest.raises(errors.Error) as caught:
            app.start()
        assert caught.value.kind() == errors.UNAVAILABLE
        assert f"cannot listen on 127.0.0.1:{port}" in caught.value.message()
        assert "(starting app:gateway)" in caught.value.message()
        assert app.node is None and app.runner.states["app:processes"] == "stopped"

        optional = write_app(tmp_path / "optional", template.format(port=port, mode="optional"))
        with App(optional) as app:
            assert app.runner.states["app:processes"] == "running"
            assert app.runner.failures["app:gateway"].kind() == errors.UNAVAILABLE
    finally:
        busy.close()


def test_start_timeout_bounds_a_start_and_startup_is_checked_at_load(tmp_path: Path) -> None:
    app_dir = write_app(
        tmp_path / "slow",
        """
namespace: app
entries:
  - {name: processes, kind: process.host}
  - {name: slow, kind: python.service, file: slow.py, lifecycle: {start_timeout: 0.3s}}
""",
        {"slow.py": "import time\n\ndef start(app):\n    time.sleep(1.5)\n"},
    )
    app = App(app_dir)
    began = time.monotonic()
    with pytest.raises(errors.Error) as caught:
        app.start()
    assert time.monotonic() - began < 1.2
    assert caught.value.kind() == errors.TIMEOUT
    assert "start_timeout" in caught.value.message()

    bad = write_app(
        tmp_path / "bad",
        """
namespace: app
entries:
  - {name: processes, kind: process.host}
  - {name: gateway, kind: http.service, addr: ":0", lifecycle: {startup: maybe}}
""",
    )
    with pytest.raises(AppLoadError) as problems:
        App(bad)
    assert "app.yaml:5: app:gateway: lifecycle.startup must be required or optional, got 'maybe'" in str(
        problems.value
    )


def test_services_ignoring_cancel_stop_in_parallel_within_the_largest_stop_timeout(tmp_path: Path) -> None:
    app_dir = write_app(
        tmp_path / "app",
        """
namespace: app
entries:
  - {name: processes, kind: process.host}
  - {name: worker, kind: process.lua, source: file://stubborn.lua, modules: [time]}
  - {name: one, kind: process.service, process: app:worker, host: app:processes,
     lifecycle: {auto_start: true, stop_timeout: 1s}}
  - {name: two, kind: process.service, process: app:worker, host: app:processes,
     lifecycle: {auto_start: true, stop_timeout: 1.5s}}
""",
        {"stubborn.lua": STUBBORN},
    )
    app = App(app_dir)
    app.start()
    node = app.node
    assert node is not None and node.process_count() == 3  # the manager and two services
    began = time.monotonic()
    app.stop()
    took = time.monotonic() - began
    # Terminated at their own deadlines, at the same time: the largest, not the sum (2.5 s).
    assert 1.4 <= took < 2.2, took


def test_a_state_directory_serves_one_run_at_a_time(tmp_path: Path) -> None:
    app_dir = write_app(
        tmp_path / "app", "namespace: app\nentries:\n  - {name: processes, kind: process.host}\n"
    )
    with App(app_dir, lock=True):
        second = App(app_dir, lock=True)
        with pytest.raises(errors.Error) as caught:
            second.start()
        assert caught.value.kind() == errors.CONFLICT
        assert "in use by another actorflow run" in caught.value.message()
        assert (app_dir / ".actorflow").stat().st_mode & 0o777 == 0o700
    with App(app_dir, lock=True):  # released by the first one's stop
        pass
