"""actorflow's pytest plugin: test an app, its supervision trees and its workflows in a few lines.

Installed with actorflow (the ``pytest11`` entry point ``actorflow``), so a
plain ``pytest`` has it; ``-p no:actorflow`` turns it off.

Fixtures (``pytest --fixtures`` lists them):

* ``node`` -- the node under test: the ``app`` fixture's node when the test
  uses ``app``, otherwise a fresh :class:`~actors.Node`, shut down afterwards.
* ``probe`` -- a :class:`~actors.Probe` on ``node`` that traps links, so a test
  sees LINK_DOWN and EXIT events as messages instead of dying with them.
* ``app`` -- the app in ``app_dir``, started (its Temporal clients pointed at
  the test's Temporal environment, its state in the test's ``tmp_path``) and
  stopped after the test.
* ``app_dir`` -- the app's directory: the ``actorflow_app`` ini option
  (relative to the ini file), or override the fixture.
* ``temporal_env`` -- the test's :class:`TemporalEnvironment`.

The Temporal environment comes from ``--temporal`` (or the ``actorflow_temporal``
ini option): ``dev`` (the default: every app gets its own embedded dev server,
state in the test's temporary directory), ``time-skipping`` (the time-skipping
test server: durable sleeps of days pass in moments) or ``HOST:PORT`` (an
existing server).  A test, class or module marked
``@pytest.mark.temporal("time-skipping")`` (or ``"dev"``) gets that server
whatever the option says; an entry that declares ``server: time_skipping``
keeps it.

Mark every test that needs Temporal with ``@pytest.mark.temporal``: when the
environment is not available (binary missing, nothing listening at
``HOST:PORT``) such a test *fails* at setup saying why.  It is never skipped:
a skip would hide that the test did not run.  ``-m "not temporal"`` deselects
them, visibly, when that is what you want.

temporalio can crash the interpreter at exit after every test has passed
(sdk-python issue 300).  When temporalio was imported, the plugin ends the
process in ``pytest_unconfigure`` of the outermost session with
``os._exit(status)``: ``status`` is exactly the status pytest returns, so a
failure is never hidden and a crash in interpreter teardown never turns a
green run red.  The ``actorflow_hard_exit = false`` ini option turns this off
(for a program that calls ``pytest.main()`` and goes on).
"""

from __future__ import annotations

import asyncio
import os
import re
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import pytest

if TYPE_CHECKING:
    from actorflow.app import App
    from actors import Node, Probe
    from actors.entries import Registry

__all__ = [
    "DEV",
    "EXTERNAL",
    "TIME_SKIPPING",
    "TemporalEnvironment",
    "running_app",
    "temporal_environment",
    "wait_until",
]

DEV = "dev"
TIME_SKIPPING = "time-skipping"
EXTERNAL = "external"

_MODES = (DEV, TIME_SKIPPING)
_USAGE = "dev, time-skipping or HOST:PORT"
_ENVIRONMENT = pytest.StashKey["TemporalEnvironment"]()
_SESSION = pytest.StashKey[pytest.Session]()

T = TypeVar("T")


# -- the Temporal environment ----------------------------------------------------------------------


@dataclass(frozen=True)
class TemporalEnvironment:
    """Which Temporal server a test's apps use.

    ``mode`` is :data:`DEV` (each app starts its own embedded dev server, as a
    ``temporal.client`` entry without ``address`` does), :data:`TIME_SKIPPING`
    (each app starts the time-skipping test server) or :data:`EXTERNAL`
    (``address``, an existing server; the namespaces the apps use must exist
    there, the search attributes they declare are added).
    """

    mode: str
    address: str | None = None

    @classmethod
    def parse(cls, value: str) -> TemporalEnvironment:
        """``dev``, ``time-skipping`` or ``HOST:PORT``; ``ValueError`` otherwise."""
        text = value.strip()
        if text in _MODES:
            return cls(text)
        host, colon, port = text.rpartition(":")
        if colon and host and port.isdigit() and 0 < int(port) < 65536:
            return cls(EXTERNAL, text)
        raise ValueError(f"--temporal={value!r}: expected {_USAGE}")

    def __str__(self) -> str:
        return self.address if self.address is not None else self.mode

    def unavailable(self) -> str | None:
        """Why this environment cannot be used on this machine, or ``None`` when it can."""
        if self.mode == EXTERNAL:
            assert self.address is not None
            host, _, port = self.address.rpartition(":")
            try:
                with socket.create_connection((host.strip("[]"), int(port)), timeout=5):
                    return None
            except OSError as exc:
                return f"nothing answers at {self.address} ({exc})"
        from actors import errors
        from temporal_bridge.server import find_binary

        try:
            find_binary("temporal" if self.mode == DEV else "temporal-test-server")
        except errors.Error as exc:
            return exc.message()
        return None

    def require(self) -> None:
        """Fail the running test (never skip it) when this environment is not available."""
        reason = self.unavailable()
        if reason is not None:
            pytest.fail(
                f"Temporal is not available (--temporal={self}): {reason}. "
                "Tests that need Temporal fail rather than skip; deselect them with -m 'not temporal'.",
                pytrace=False,
            )

    def configure(self, registry: Registry) -> None:
        """Point every ``temporal.client`` entry of a loaded app at this environment.

        An entry declaring ``server: time_skipping`` was written for the test
        server and keeps it.  ``tls`` and ``auth`` are dropped: the servers a
        test talks to here are local or plain ``HOST:PORT``.
        """
        clients = registry.of_kind("temporal.client")
        if not clients:
            return
        self.require()
        for entry in clients:
            data = entry.data
            if data.get("server") == "time_skipping":
                continue
            for key in ("address", "server", "tls", "auth"):
                data.pop(key, None)
            if self.mode == TIME_SKIPPING:
                data["server"] = "time_skipping"
            elif self.mode == EXTERNAL:
                data["address"] = self.address
                attributes = data.get("search_attributes") or {}
                if attributes:
                    _run_async(
                        _add_search_attributes(
                            str(self.address), str(data.get("namespace") or "default"), attributes
                        )
                    )


def temporal_environment(request: pytest.FixtureRequest) -> TemporalEnvironment:
    """The environment for ``request``'s test, class or module.

    Its ``temporal`` marker's server (``"dev"`` or ``"time-skipping"``) when it
    names one, else ``--temporal``.  Usable from fixtures of any scope.
    """
    marker = request.node.get_closest_marker("temporal")
    if marker is not None and marker.args:
        try:
            return TemporalEnvironment.parse(str(marker.args[0]))
        except ValueError:
            pytest.fail(f"@pytest.mark.temporal({marker.args[0]!r}): expected {_USAGE}", pytrace=False)
    return request.config.stash[_ENVIRONMENT]


async def _add_search_attributes(address: str, namespace: str, attributes: Mapping[str, str]) -> None:
    """What ``--search-attribute`` does for the embedded dev server, on an existing one."""
    from temporalio.api.enums.v1 import IndexedValueType
    from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest, ListSearchAttributesRequest
    from temporalio.client import Client

    client = await Client.connect(address, namespace=namespace)
    known = await client.operator_service.list_search_attributes(
        ListSearchAttributesRequest(namespace=namespace)
    )
    missing = {
        name: IndexedValueType.Value("INDEXED_VALUE_TYPE_" + re.sub(r"(?<!^)(?=[A-Z])", "_", kind).upper())
        for name, kind in attributes.items()
        if name not in known.custom_attributes
    }
    if missing:
        await client.operator_service.add_search_attributes(
            AddSearchAttributesRequest(namespace=namespace, search_attributes=missing)
        )


def _run_async(coro: Any) -> Any:
    """Run a coroutine to its end from a test (which may itself run inside an event loop)."""
    outcome: list[Any] = []

    def run() -> None:
        try:
            outcome.append((asyncio.run(coro), None))
        except BaseException as exc:
            outcome.append((None, exc))

    thread = threading.Thread(target=run, name="actorflow-pytest-async")
    thread.start()
    thread.join()
    value, error = outcome[0]
    if error is not None:
        raise error
    return value


# -- apps -------------------------------------------------------------------------------------------


@contextmanager
def running_app(
    path: str | os.PathLike[str],
    *,
    state_dir: str | os.PathLike[str],
    temporal: TemporalEnvironment | None = None,
    functions: Mapping[str, Callable[..., Any]] | None = None,
    **options: Any,
) -> Iterator[App]:
    """The app in ``path``, started, and stopped when the block ends.

    For fixtures of any scope::

        @pytest.fixture(scope="module")
        def app(request, tmp_path_factory):
            with running_app(APP_DIR, state_dir=tmp_path_factory.mktemp("state"),
                             temporal=temporal_environment(request)) as app:
                yield app

    ``temporal`` (default: the embedded dev server) is where its
    ``temporal.client`` entries connect; ``functions`` are registered on the
    node (``funcs.call`` reaches them by ID) before the block runs; other
    keyword arguments go to :class:`actorflow.app.App`.
    """
    from actorflow.app import App

    app = App(path, state_dir=state_dir, **options)
    (temporal or TemporalEnvironment(DEV)).configure(app.registry)
    with app:
        assert app.node is not None
        for function_id, function in (functions or {}).items():
            app.node.register_function(function_id, function)
        yield app


# -- waiting on conditions --------------------------------------------------------------------------


def wait_until(
    condition: Callable[[], T], timeout: float = 5.0, *, interval: float = 0.005, what: str | None = None
) -> T:
    """Poll ``condition`` until it returns something true; return that value.

    The way to wait for a precondition instead of sleeping: it returns as soon
    as the condition holds, and fails the test (``AssertionError`` naming
    ``what``) when it still does not after ``timeout`` seconds, so a test never
    goes on without the state it meant to test.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"not true after {timeout} s: {what or _describe(condition)}")
        time.sleep(interval)


def _describe(condition: Callable[..., Any]) -> str:
    code = getattr(condition, "__code__", None)
    if code is None:
        return repr(condition)
    return f"{getattr(condition, '__qualname__', condition)} ({code.co_filename}:{code.co_firstlineno})"


# -- fixtures ----------------------------------------------------------------------------------------


@pytest.fixture
def temporal_env(request: pytest.FixtureRequest) -> TemporalEnvironment:
    """The Temporal environment of this test: its ``temporal`` marker's server, else ``--temporal``."""
    return temporal_environment(request)


@pytest.fixture
def app_dir(request: pytest.FixtureRequest) -> Path:
    """The directory of the app under test: the ``actorflow_app`` ini option, or override this fixture."""
    configured = request.config.getini("actorflow_app")
    if not configured:
        pytest.fail(
            "no app directory: set actorflow_app in the pytest configuration, "
            "or define an app_dir fixture returning the app's directory",
            pytrace=False,
        )
    base = request.config.inipath.parent if request.config.inipath else request.config.rootpath
    return (base / str(configured)).resolve()


@pytest.fixture
def app(request: pytest.FixtureRequest, app_dir: Path, tmp_path: Path) -> Iterator[App]:
    """The app in ``app_dir``, started for this test (state in ``tmp_path``) and stopped after it."""
    with running_app(
        app_dir, state_dir=tmp_path / "app-state", temporal=temporal_environment(request)
    ) as app:
        yield app


@pytest.fixture
def node(request: pytest.FixtureRequest) -> Iterator[Node]:
    """The node under test: the app's when the test uses ``app``, else a fresh one shut down afterwards."""
    if "app" in request.fixturenames:
        running: App = request.getfixturevalue("app")
        assert running.node is not None
        yield running.node
        return
    from actors import Node

    fresh = Node(workers=2)
    try:
        yield fresh
    finally:
        fresh.shutdown(timeout=0.5)


@pytest.fixture
def probe(request: pytest.FixtureRequest, node: Node) -> Iterator[Probe]:
    """A :class:`~actors.Probe` on ``node`` that traps links, closed after the test.

    Its ``expect_*`` calls wait up to ``actorflow_probe_timeout`` seconds (ini
    option, default 10): as long as a slow machine needs, and no longer than
    the event takes when it comes.
    """
    from actors import Probe

    timeout = float(request.config.getini("actorflow_probe_timeout"))
    with Probe(node, trap_links=True, default_timeout=timeout) as opened:
        yield opened


@pytest.fixture(autouse=True)
def _actorflow_temporal_marker(request: pytest.FixtureRequest) -> None:
    """A test marked ``temporal`` fails at setup, saying why, when its environment is not available."""
    if request.node.get_closest_marker("temporal") is not None:
        temporal_environment(request).require()


# -- hooks -------------------------------------------------------------------------------------------


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("actorflow", "actorflow apps, processes and workflows")
    group.addoption(
        "--temporal",
        dest="actorflow_temporal",
        default=None,
        metavar="dev|time-skipping|HOST:PORT",
        help="the Temporal server the tests' apps use: an embedded dev server per app (dev, the "
        "default), the time-skipping test server, or an existing server at HOST:PORT",
    )
    parser.addini("actorflow_temporal", "default for --temporal", default=DEV)
    parser.addini("actorflow_app", "directory of the app the app fixture starts (relative to this file)")
    parser.addini("actorflow_probe_timeout", "seconds the probe fixture's expect_* calls wait", default="10")
    parser.addini(
        "actorflow_hard_exit",
        "end the process with pytest's status in pytest_unconfigure when temporalio was used "
        "(guards against its crash at interpreter exit)",
        type="bool",
        default=True,
    )


_configured: list[pytest.Config] = []
"""The configs of the sessions running in this process, outermost first (pytester nests them)."""


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "temporal(server=None): the test needs Temporal; it fails, never skips, when Temporal is not "
        "available. server 'dev' or 'time-skipping' chooses the server whatever --temporal says.",
    )
    value = config.getoption("actorflow_temporal") or config.getini("actorflow_temporal")
    try:
        config.stash[_ENVIRONMENT] = TemporalEnvironment.parse(str(value))
    except ValueError as exc:
        raise pytest.UsageError(str(exc)) from None
    _configured.append(config)


def pytest_sessionstart(session: pytest.Session) -> None:
    session.config.stash[_SESSION] = session


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    """Leave the outermost session with ``os._exit(pytest's status)`` once temporalio was used."""
    if config in _configured:
        _configured.remove(config)
    session = config.stash.get(_SESSION, None)
    if _configured or session is None or "temporalio" not in sys.modules:
        return
    if not config.getini("actorflow_hard_exit"):
        return
    status = int(session.exitstatus)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)
