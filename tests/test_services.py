"""``process.service`` entries: auto start, restart with backoff, failed state, stop order."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from actorflow.app import App
from actorflow.pytest_plugin import wait_until
from actors import Error, Probe, errors
from supervision import (
    ChildState,
    Services,
    ServiceSpec,
    services_supervisor,
    start_services,
    start_supervisor,
)

from .lua_support import HOST, lua_entry, write_app
from .supervision_support import FakeClock, FakeTimers

SERVICE = """
return {main = function(name, observer)
  if observer then process.send(observer, "started", name) end
  local inbox = process.inbox()
  local events = process.events()
  while true do
    local r = channel.select{inbox:case_receive(), events:case_receive()}
    if r.channel == events then
      if observer then process.send(observer, "stopped", {name = name, reason = r.value.reason}) end
      return "stopped"
    end
    local topic = r.value:topic()
    if topic == "crash" then error(name .. " crashed") end
    if topic == "finish" then return "done" end
    if topic == "give_up" then return nil, errors.new({kind = errors.INVALID, message = "bad config", retryable = false}) end
  end
end}
"""


def service(
    name: str,
    *,
    requires: list[str] | None = None,
    restart: dict[str, Any] | None = None,
    auto_start: bool = True,
    input: list[Any] | None = None,
) -> dict[str, Any]:
    lifecycle: dict[str, Any] = {"auto_start": auto_start}
    if restart is not None:
        lifecycle["restart"] = restart
    if requires:
        lifecycle["requires"] = requires
    entry: dict[str, Any] = {
        "name": name,
        "kind": "process.service",
        "process": "app:handler",
        "host": "app:processes",
        "lifecycle": lifecycle,
    }
    entry["input"] = input if input is not None else [name]
    return entry


@pytest.fixture
def make_app(tmp_path: Path) -> Iterator[Callable[..., App]]:
    apps: list[App] = []

    def make(*services: dict[str, Any]) -> App:
        write_app(tmp_path, [HOST, lua_entry("handler"), *services], {"handler.lua": SERVICE})
        app = App(tmp_path, extensions=[]).start()
        apps.append(app)
        return app

    yield make
    for app in apps:
        app.stop(timeout=2)


def test_the_seed_service_example_starts_with_the_app(tmp_path: Path) -> None:
    write_app(
        tmp_path,
        [
            HOST,
            {
                "name": "session_handler",
                "kind": "process.lua",
                "source": "file://session_handler.lua",
                "method": "main",
            },
            {
                "name": "session_manager",
                "kind": "process.service",
                "process": "app:session_handler",
                "host": "app:processes",
                "lifecycle": {"auto_start": True, "restart": {"max_attempts": 10}},
            },
        ],
        {"session_handler.lua": "return {main = function() process.events():receive() return 'bye' end}"},
    )
    with App(tmp_path) as app:
        status = app.services.status("app:session_manager")  # type: ignore[attr-defined]
        assert status["state"] == "running" and status["pid"] is not None


def test_a_crashing_service_is_restarted_with_exponential_backoff_then_marked_failed(
    make_app: Callable[..., App],
) -> None:
    app = make_app(
        service(
            "flaky",
            restart={
                "initial_delay": "1s",
                "backoff_factor": 2,
                "max_delay": "5s",
                "jitter": 0,
                "max_attempts": 5,
            },
        )
    )
    clock, timers = FakeClock(), FakeTimers()
    services = start_services(app.node, app.registry, clock=clock, timers=timers)
    node = app.node
    assert node is not None
    seen_pids = []
    for attempt in range(1, 5):
        status = services.status("app:flaky")
        assert status["state"] == "running"
        seen_pids.append(status["pid"])
        node.send(status["pid"], "crash")
        timers.wait_pending()
        assert services.status("app:flaky")["state"] == "restarting"
        timers.fire_all()
        wait_until(
            lambda attempt=attempt: (
                services.status("app:flaky")["restarts"] == attempt
                and services.status("app:flaky")["state"] == "running"
            )
        )
    assert timers.delays == [1.0, 2.0, 4.0, 5.0]  # capped by max_delay
    assert len(set(seen_pids)) == 4
    node.send(services.status("app:flaky")["pid"], "crash")
    wait_until(lambda: services.status("app:flaky")["state"] == "failed")
    final = services.status("app:flaky")
    assert final["attempts"] == 5 and final["pid"] is None
    assert final["last_error"]["kind"] == "INTERNAL" and "flaky crashed" in final["last_error"]["message"]
    assert timers.delays == [1.0, 2.0, 4.0, 5.0]  # no restart after max_attempts
    services.stop()


def test_starting_a_service_that_waits_to_restart_runs_it_once(make_app: Callable[..., App]) -> None:
    app = make_app(service("flaky", restart={"initial_delay": "1s", "jitter": 0, "max_attempts": 5}))
    clock, timers = FakeClock(), FakeTimers()
    services = start_services(app.node, app.registry, clock=clock, timers=timers)
    node = app.node
    assert node is not None
    baseline = node.process_count()
    crashed = services.status("app:flaky")["pid"]
    node.send(crashed, "crash")
    timers.wait_pending()
    assert services.status("app:flaky")["state"] == "restarting"
    assert services.start("app:flaky")["state"] == "running"
    timers.fire_all()  # the pending restart was cancelled: it must not start a second copy
    # Answered after whatever fire_all sent the supervisor: a second copy would be spawned by now.
    assert services.status("app:flaky")["state"] == "running"
    wait_until(lambda: node.process(crashed) is None, what=f"the crashed {crashed} gone")
    assert node.process_count() == baseline
    services.stop()


def test_a_stable_run_resets_the_attempt_count(make_app: Callable[..., App]) -> None:
    app = make_app(service("steady", restart={"initial_delay": "1s", "jitter": 0, "max_attempts": 3}))
    clock, timers = FakeClock(), FakeTimers()
    services = start_services(app.node, app.registry, clock=clock, timers=timers)
    node = app.node
    assert node is not None
    for _ in range(4):  # more failures than max_attempts, each after a stable run
        status = services.status("app:steady")
        clock.advance(6)  # longer than the default stable_threshold (5s)
        node.send(status["pid"], "crash")
        timers.wait_pending()
        timers.fire_all()
        wait_until(lambda status=status: services.status("app:steady")["pid"] not in (None, status["pid"]))
    assert timers.delays == [1.0, 1.0, 1.0, 1.0]
    assert services.status("app:steady")["attempts"] == 1
    services.stop()


def test_max_attempts_1_never_restarts(make_app: Callable[..., App]) -> None:
    app = make_app(service("once", restart={"max_attempts": 1}))
    timers = FakeTimers()
    services = start_services(app.node, app.registry, timers=timers)
    app.node.send(services.status("app:once")["pid"], "crash")  # type: ignore[union-attr]
    wait_until(lambda: services.status("app:once")["state"] == "failed")
    assert timers.delays == []
    services.stop()


def test_normal_exit_and_non_retryable_errors_are_not_restarted(make_app: Callable[..., App]) -> None:
    app = make_app(service("finisher"), service("quitter"))
    timers = FakeTimers()
    services = start_services(app.node, app.registry, timers=timers)
    node = app.node
    assert node is not None
    node.send(services.status("app:finisher")["pid"], "finish")
    node.send(services.status("app:quitter")["pid"], "give_up")
    wait_until(lambda: services.status("app:finisher")["state"] == "exited")
    wait_until(lambda: services.status("app:quitter")["state"] == "exited")
    assert services.status("app:quitter")["last_error"] == {"kind": "INVALID", "message": "bad config"}
    assert timers.delays == []
    services.stop()


def test_a_failed_service_leaves_the_others_running(make_app: Callable[..., App]) -> None:
    app = make_app(service("fragile", restart={"max_attempts": 1}), service("robust"))
    services = start_services(app.node, app.registry, timers=FakeTimers())
    robust = services.status("app:robust")["pid"]
    app.node.send(services.status("app:fragile")["pid"], "crash")  # type: ignore[union-attr]
    wait_until(lambda: services.status("app:fragile")["state"] == "failed")
    assert services.status("app:robust")["state"] == "running"
    assert services.status("app:robust")["pid"] == robust and app.node.is_alive(robust)  # type: ignore[union-attr]
    services.stop()


def test_services_start_after_their_requirements_and_stop_in_reverse(make_app: Callable[..., App]) -> None:
    app = make_app(
        service("api", requires=["cache"], input=["api", "observer"]),
        service("db", input=["db", "observer"]),
        service("cache", requires=["db"], input=["cache", "observer"]),
    )
    node = app.node
    assert node is not None
    with Probe(node, name="observer", default_timeout=10) as probe:
        services = start_services(node, app.registry)
        names = {probe.expect_message("started").payload for _ in range(3)}
        assert names == {"db", "cache", "api"}
        # PIDs are handed out in spawn order: requirements first.
        spawned = sorted(("db", "cache", "api"), key=lambda name: services.status(f"app:{name}")["pid"])
        assert spawned == ["db", "cache", "api"]
        services.stop()
        stopped = [probe.expect_message("stopped").payload for _ in range(3)]
        assert [item["name"] for item in stopped] == ["api", "cache", "db"]
        assert {item["reason"] for item in stopped} == {"service stopping"}


def test_stopping_a_service_that_ignores_cancel_terminates_it_after_stop_timeout(tmp_path: Path) -> None:
    write_app(
        tmp_path,
        [
            HOST,
            lua_entry("stubborn"),
            {
                "name": "svc",
                "kind": "process.service",
                "process": "app:stubborn",
                "host": "app:processes",
                "lifecycle": {"auto_start": True, "stop_timeout": "300ms"},
            },
        ],
        {
            "stubborn.lua": "return {main = function() local e = process.events() while true do e:receive() end end}"
        },
    )
    with App(tmp_path, extensions=[]) as app:
        services = start_services(app.node, app.registry)
        assert services.status("app:svc")["state"] == "running"
        started = time.monotonic()
        status = services.stop_service("app:svc")
        elapsed = time.monotonic() - started
        assert status["state"] == "stopped"
        assert 0.3 <= elapsed < 1.5
        services.stop()


def test_service_spec_reads_every_lifecycle_field(tmp_path: Path) -> None:
    entries = [
        HOST,
        lua_entry("handler"),
        {
            "name": "svc",
            "kind": "process.service",
            "process": "handler",
            "host": "processes",
            "input": [1, "two"],
            "lifecycle": {
                "auto_start": True,
                "start_timeout": "3s",
                "stop_timeout": "4s",
                "stable_threshold": "6s",
                "requires": ["other"],
                "depends_on": ["legacy"],
                "restart": {
                    "initial_delay": "250ms",
                    "max_delay": "1m",
                    "backoff_factor": 3,
                    "jitter": 0.2,
                    "max_attempts": 7,
                },
            },
        },
        service("other"),
        service("legacy"),
    ]
    write_app(tmp_path, entries, {"handler.lua": SERVICE})
    from actors.entries import load_app

    spec = ServiceSpec.from_entry(load_app(tmp_path).require("app:svc"))
    assert (spec.process, spec.host, spec.input) == ("app:handler", "app:processes", (1, "two"))
    assert (spec.auto_start, spec.start_timeout, spec.stop_timeout, spec.stable_threshold) == (
        True,
        3.0,
        4.0,
        6.0,
    )
    assert spec.requires == ("app:other", "app:legacy")
    restart = spec.restart
    assert (
        restart.initial_delay,
        restart.max_delay,
        restart.backoff_factor,
        restart.jitter,
        restart.max_attempts,
    ) == (
        0.25,
        60.0,
        3.0,
        0.2,
        7,
    )
    assert [round(restart.delay(n, lambda low, high: 1.0), 3) for n in (1, 2, 3, 4, 5)] == [
        0.25,
        0.75,
        2.25,
        6.75,
        20.25,
    ]


def test_service_entries_are_validated(tmp_path: Path) -> None:
    from actors.entries import AppLoadError, load_app

    write_app(
        tmp_path,
        [
            HOST,
            lua_entry("handler"),
            {"name": "a", "kind": "process.service", "process": "app:handler"},
            {
                "name": "b",
                "kind": "process.service",
                "process": "app:processes",
                "host": "app:processes",
                "args": [1],
                "lifecycle": {"restart": {"max_attempts": -1}},
            },
        ],
        {"handler.lua": SERVICE},
    )
    with pytest.raises(AppLoadError) as info:
        load_app(tmp_path)
    problems = [str(problem) for problem in info.value.problems]
    assert any("app:a: missing required field 'host'" in p for p in problems)
    assert any(
        "app:b: process references 'app:processes' of kind 'process.host', expected process.lua" in p
        for p in problems
    )
    assert any("app:b: there is no 'args' key" in p for p in problems)
    assert any("app:b: lifecycle.restart.max_attempts must be a non-negative integer" in p for p in problems)


STUBBORN = "return {main = function() local e = process.events() while true do e:receive() end end}"


def stubborn_service(name: str, stop_timeout: str, **lifecycle: Any) -> dict[str, Any]:
    return {
        "name": name,
        "kind": "process.service",
        "process": "app:stubborn",
        "host": "app:processes",
        "lifecycle": {"auto_start": True, "stop_timeout": stop_timeout, **lifecycle},
    }


def test_services_that_ignore_cancel_stop_together_within_the_longest_stop_timeout(tmp_path: Path) -> None:
    """Stopping an app takes its longest stop_timeout, not their sum (issue 14)."""
    write_app(
        tmp_path,
        [HOST, lua_entry("stubborn"), *(stubborn_service(name, "400ms") for name in ("a", "b", "c"))],
        {"stubborn.lua": STUBBORN},
    )
    app = App(tmp_path).start()
    node = app.node
    assert node is not None
    pids = [status["pid"] for status in app.services.status()]  # type: ignore[attr-defined]
    assert len(pids) == 3 and all(node.is_alive(pid) for pid in pids)
    started = time.monotonic()
    app.services.stop()  # type: ignore[attr-defined]
    elapsed = time.monotonic() - started
    assert not any(node.is_alive(pid) for pid in pids)  # terminated at their deadline
    assert 0.4 <= elapsed < 1.0  # one stop_timeout (0.4 s), not three in a row (1.2 s)
    app.stop(timeout=2)


def test_a_level_stops_together_and_before_what_it_requires(tmp_path: Path) -> None:
    """``api`` and ``jobs`` both require ``db``: they stop together (0.6 s, not 1.2 s), then ``db``."""
    write_app(
        tmp_path,
        [
            HOST,
            lua_entry("stubborn"),
            lua_entry("handler"),
            stubborn_service("api", "600ms", requires=["db"]),
            stubborn_service("jobs", "600ms", requires=["db"]),
            {
                **service("db", input=["db", "observer"]),
                "lifecycle": {"auto_start": True, "stop_timeout": "5s"},
            },
        ],
        {"stubborn.lua": STUBBORN, "handler.lua": SERVICE},
    )
    with App(tmp_path, extensions=[]) as app:
        node = app.node
        assert node is not None
        with Probe(node, name="observer", default_timeout=10) as probe:
            services = start_services(node, app.registry)
            probe.expect_message("started")
            dependents = [services.status(f"app:{name}")["pid"] for name in ("api", "jobs")]
            elapsed: list[float] = []

            def stop() -> None:
                started = time.monotonic()
                services.stop()
                elapsed.append(time.monotonic() - started)

            stopper = threading.Thread(target=stop)
            stopper.start()
            stopped = probe.expect_message("stopped")
            # db is asked to stop only once both services that require it have ended.
            assert stopped.payload == {"name": "db", "reason": "service stopping"}
            assert not any(node.is_alive(pid) for pid in dependents)
            stopper.join(10)
            assert 0.6 <= elapsed[0] < 1.1


def test_service_states_from_declared_to_stopped(make_app: Callable[..., App]) -> None:
    app = make_app(service("lazy", auto_start=False))
    services = start_services(app.node, app.registry)
    lazy = services.status("app:lazy")
    assert lazy["state"] is ChildState.UNKNOWN and lazy["pid"] is None
    assert services.start("app:lazy")["state"] is ChildState.RUNNING
    assert services.start("app:lazy")["state"] == "running"  # a running service is left as it is
    stopped = services.stop_service("app:lazy")
    assert stopped["state"] is ChildState.STOPPED and stopped["pid"] is None
    assert json.loads(json.dumps(stopped, default=str))["state"] == "stopped"
    tree = services.tree()
    assert [(child["id"], child["status"]) for child in tree["children"]] == [("app:lazy", "stopped")]
    with pytest.raises(Error) as missing:
        services.start("app:nobody")
    assert missing.value.kind() == errors.NOT_FOUND
    services.stop()


def test_a_service_whose_process_cannot_start_is_failed_and_the_others_run(
    make_app: Callable[..., App],
) -> None:
    app = make_app(service("fine"))
    node = app.node
    assert node is not None
    specs = [
        ServiceSpec.from_entry(app.registry.require("app:fine")),
        ServiceSpec("app:broken", "app:no_such_entry", "app:processes", auto_start=True),
    ]
    timers = FakeTimers()
    services = Services(start_supervisor(node, services_supervisor(specs), timers=timers), specs)
    status = services.status("app:broken")
    assert status["state"] is ChildState.FAILED and status["last_error"]["kind"] == errors.NOT_FOUND
    assert timers.delays == []  # no retry can cure it: not retried
    assert services.status("app:fine")["state"] is ChildState.RUNNING
    services.stop()


def test_check_reports_a_requirement_cycle_and_a_bad_backoff(tmp_path: Path) -> None:
    from actors.entries import AppLoadError, load_app

    write_app(
        tmp_path,
        [
            HOST,
            lua_entry("handler"),
            service("a", requires=["b"]),
            service("b", requires=["a"]),
            service("c", restart={"jitter": 1.5}),
        ],
        {"handler.lua": SERVICE},
    )
    with pytest.raises(AppLoadError) as info:
        load_app(tmp_path)
    problems = [str(problem) for problem in info.value.problems]
    assert any(
        "app:a" in p and "services require each other in a cycle: app:a → app:b → app:a" in p
        for p in problems
    )
    assert any("app:c" in p and "backoff jitter must be in [0, 1), got 1.5" in p for p in problems)
    assert all("app.yaml" in p for p in problems)
