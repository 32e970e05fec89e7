"""Fuzzing the ``actorflow`` command line with hypothesis.

Whatever a user types, the command ends within a bound with a documented
status (0; 1 with ``error: KIND: message`` on stderr; 2 for a usage error,
argparse's ``actorflow CMD: error: …``, or when no app runs; 130 when
interrupted) and never prints a Python traceback.  Arguments are what a
real command line gives Python (bytes decoded with ``surrogateescape``, no
NUL): odd entry IDs and names, JSON arguments nested 100,000 deep, with
lone surrogates, NaN, huge integers, ``--timeout nan``, ``--set`` values
that are YAML alias bombs, missing and unreadable app directories, options
before and after the command.

``main()`` runs in-process (fast): a command whose arguments were all
accepted stops where the app would start (``App.start`` raises
``WouldStart``), so no server is left running; the operator commands also
run against one real ``actorflow run`` of a small app.  A few commands run
as real subprocesses too.  Bounded for ``make test``; see
``tests/fuzz_support.py`` for the long mode.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

import actorflow.app
from actorflow import cli
from actors import errors

from .cli_support import RunningApp
from .fuzz_support import fuzz
from .lua_support import HOST, lua_entry, write_app

ROOT = Path(__file__).resolve().parents[1]
BOUND = 20.0
"""The longest any in-process command may take (seconds)."""

KINDS = errors.KINDS - {errors.INVALID_STATE, errors.EXITED, errors.TERMINATED}
"""The kinds a CLI error may name: the runtime's, less those only a process's end carries."""
TYPED = re.compile(r"error: ([A-Z_]+): \S")
USAGE = re.compile(r"actorflow(?: [a-z]+)?: error: \S")
STARTED = "started"
"""The status of a command that got as far as starting the app (in-process runs stop there)."""


class WouldStart(BaseException):
    """Raised by ``App.start`` in-process: every argument was accepted."""


@dataclass
class Ran:
    argv: list[str]
    status: int | str
    out: str
    err: str
    seconds: float

    def check(self, *, may_start: bool = True) -> None:
        """The command's outcome is one a user can rely on (see the module docstring)."""
        where = f"actorflow {' '.join(map(repr, self.argv))}\n--- stdout\n{self.out}\n--- stderr\n{self.err}"
        assert self.seconds < BOUND, f"took {self.seconds:.1f} s: {where}"
        assert "Traceback" not in self.err and 'File "' not in self.err, where
        allowed: set[int | str] = {0, 1, 2, 130} | ({STARTED} if may_start else set())
        assert self.status in allowed, where
        if self.status in (0, STARTED):
            if self.status == 0 and "--json" in self.argv and self.out.strip():
                json.loads(self.out)  # valid JSON (no NaN) for scripts
            return
        lines = self.err.strip().splitlines()
        typed = [match for line in lines if (match := TYPED.match(line))]
        usage = [line for line in lines if USAGE.match(line)]
        assert len(typed) + len(usage) == 1, f"not exactly one typed error line: {where}"
        if typed:
            assert typed[0].group(1) in KINDS, where
            assert self.status in (1, 2), where
        else:
            assert self.status == 2, where


def run_cli(argv: list[str]) -> Ran:
    """``actorflow *argv`` in this process, stopped before the app would start."""
    out, err = io.StringIO(), io.StringIO()
    handlers = {number: signal.getsignal(number) for number in (signal.SIGINT, signal.SIGTERM)}
    began = time.monotonic()
    status: int | str
    try:
        with (
            contextlib.redirect_stdout(out),
            contextlib.redirect_stderr(err),
            mock.patch.object(actorflow.app.App, "start", side_effect=WouldStart),
        ):
            try:
                status = cli.main(argv)
            except SystemExit as exit:  # argparse: usage errors (2) and --help (0)
                status = exit.code if isinstance(exit.code, int) else 1
            except WouldStart:
                status = STARTED
    finally:
        for number, handler in handlers.items():  # run/exec install their own
            signal.signal(number, handler)
    return Ran(argv, status, out.getvalue(), err.getvalue(), time.monotonic() - began)


@pytest.fixture(scope="module", autouse=True)
def _logging_left_as_found() -> Iterator[None]:
    """``main`` configures logging (root and ``actors.lua``): put it back for the other tests."""
    import logging

    loggers = [
        logging.getLogger(name) for name in ("", "actors.lua", "temporalio", "uvicorn", "temporalio.activity")
    ]
    saved = [(lg, list(lg.handlers), lg.level, lg.propagate) for lg in loggers]
    yield
    for lg, handlers, level, propagate in saved:
        lg.handlers[:] = handlers
        lg.setLevel(level)
        lg.propagate = propagate


# -- apps -----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def apps(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """App directories of every sort: valid, broken, empty, missing, a file."""
    base = tmp_path_factory.mktemp("cli_fuzz")
    valid = write_app(
        base / "valid",
        [
            HOST,
            lua_entry("echo"),
            {"name": "double", "kind": "function.lua", "source": "file://echo.lua", "method": "main"},
        ],
        {"echo.lua": "return {main = function(...) return {n = select('#', ...), ...} end}"},
    )
    broken = base / "broken"
    broken.mkdir()
    (broken / "app.yaml").write_text("namespace: app\nentries:\n  - {name: x, kind: nope}\n  - [\n")
    empty = base / "empty"
    empty.mkdir()
    return {
        "valid": str(valid),
        "broken": str(broken),
        "empty": str(empty),
        "missing": str(base / "missing"),
        "file": str(valid / "app.yaml"),
    }


# -- argument strategies ---------------------------------------------------------------------------


def _argv_text(data: bytes) -> str:
    """A command-line argument as Python gets it: bytes decoded with surrogateescape."""
    return os.fsdecode(data.replace(b"\0", b""))


ODD = st.one_of(
    st.sampled_from(
        [
            "",
            " ",
            "-",
            "--",
            "-x",
            "app:echo",
            "app:double",
            "app:processes",
            "app:nope",
            ":",
            "app:",
            ":x",
            "a:b:c",
            "app:echo\n",
            "app echo",
            "{app:processes|0x00001}",
            "{local@node|app:processes|0x1}",
            "../../etc/passwd",
            "app:é",
            "app:\U0001f600",
            "%s%n",
            "$(id)",
            "x" * 5000,
        ]
    ),
    st.binary(max_size=12).map(_argv_text),
    st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\0"), max_size=12),
)
NUMBERS = st.sampled_from(
    [
        "nan",
        "NaN",
        "-nan",
        "inf",
        "-inf",
        "1e309",
        "-1",
        "0",
        "-0",
        "1e-320",
        "0.001",
        "5",
        "abc",
        "",
        "1_000",
        "99999999999999999999999",
        "0x10",
        " 1",
    ]
)
BOMB = (
    "["
    + ", ".join(
        ["&a0 [x, x, x, x, x, x, x, x, x]"]
        + [f"&a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, 9)]
    )
    + "]"
)
SETTINGS = st.sampled_from(
    [
        "cluster.enabled=true",
        "cluster.enabled=maybe",
        "cluster.name=n1",
        "cluster.name=../x",
        "x=y",
        "cluster.=1",
        "cluster",
        "=",
        "cluster.nats.address=[",
        "cluster.nats.address=" + BOMB,
        "cluster.a.b.c=1",
        "cluster.failure_timeout=-1s",
        "cluster.enabled=&a [*a]",
        "cluster.name=" + "n" * 100,
    ]
)


def _json_text(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


JSON_VALUES = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-(2**70), 2**70),
        st.floats(allow_nan=False, allow_infinity=False),
        st.text(max_size=10),
    ),
    lambda children: st.one_of(
        st.lists(children, max_size=3), st.dictionaries(st.text(max_size=5), children, max_size=3)
    ),
    max_leaves=10,
)
JSON_ARGS = st.one_of(
    JSON_VALUES.map(_json_text),
    st.sampled_from([199, 200, 201, 10_000, 100_000]).map(lambda n: "[" * n + "]" * n),
    st.sampled_from(
        [
            "NaN",
            "Infinity",
            "-Infinity",
            "[NaN]",
            '{"a": -Infinity}',
            "1e400",
            "-1e400",
            "-0",
            "1E5",
            "18446744073709551615",
            "18446744073709551616",
            "-9223372036854775808",
            "-9223372036854775809",
            "1" * 5000,
            '"\\ud800"',
            '"\\udfff x"',
            '"\\u0000"',
            '{"a": 1, "a": 2}',
            "[1,]",
            "{",
            "",
            " ",
            "nul",
            '"' + "x" * 100_000 + '"',
            "{" + ", ".join(f'"k{i}": {i}' for i in range(20_000)) + "}",
        ]
    ),
    ODD,
)

OPTIONS: dict[str, st.SearchStrategy[list[str]]] = {
    "--json": st.just(["--json"]),
    "-q": st.just(["-q"]),
    "-v": st.just(["-v"]),
    "--timeout": NUMBERS.map(lambda n: ["--timeout", n]),
    "--wait": NUMBERS.map(lambda n: ["--wait", n]),
    "--replies": NUMBERS.map(lambda n: ["--replies", n]),
    "--limit": NUMBERS.map(lambda n: ["--limit", n]),
    "--set": SETTINGS.map(lambda s: ["--set", s]),
    "--node": ODD.map(lambda n: ["--node", n]),
    "--host": ODD.map(lambda h: ["--host", h]),
    "--client": ODD.map(lambda c: ["--client", c]),
    "--on-timeout": st.sampled_from(["cancel", "leave", "stop", ""]).map(lambda o: ["--on-timeout", o]),
    "--log-level": st.sampled_from(["debug", "warning", "loud"]).map(lambda o: ["--log-level", o]),
    "--state-dir": st.sampled_from(["/nonexistent/state", "/dev/null", "/proc/self", ""]).map(
        lambda d: ["--state-dir", d]
    ),
    "--ui": st.just(["--ui"]),
    "--closed": st.just(["--closed"]),
    "-h": st.just(["-h"]),
}

COMMANDS = ["check", "exec", "run", "send", "spawn", "ps", "tree", "workflows", "query", "update", "stop"]
OPERATOR = ["send", "spawn", "ps", "tree", "workflows", "query", "update"]
"""The commands asked of a running app (``stop`` is left out: it would stop it)."""


@st.composite
def command_lines(draw: st.DrawFn, apps: dict[str, str], running: RunningApp | None = None) -> list[str]:
    """A command line: options before the command, the command, its arguments and options mixed;
    with ``running``, an operator command asking that app."""
    if running is None:
        command = draw(st.sampled_from([*COMMANDS, "nope", ""]))
        app_dir = draw(st.one_of(st.sampled_from(sorted(apps.values())), ODD))
        option_names = sorted(OPTIONS)
    else:
        command = draw(st.sampled_from(OPERATOR))
        app_dir = str(running.app)
        option_names = sorted(set(OPTIONS) - {"--state-dir", "-h"})
    entry = draw(st.one_of(st.sampled_from(["app:echo", "app:double"]), ODD))
    positional = {
        "exec": [entry, *draw(st.lists(JSON_ARGS, max_size=3))],
        "send": [draw(ODD), draw(ODD), *draw(st.lists(JSON_ARGS, max_size=1))],
        "spawn": [
            entry,
            draw(st.one_of(st.just("app:processes"), ODD)),
            *draw(st.lists(JSON_ARGS, max_size=3)),
        ],
        "query": [draw(ODD), draw(ODD), *draw(st.lists(JSON_ARGS, max_size=2))],
        "update": [draw(ODD), draw(ODD), *draw(st.lists(JSON_ARGS, max_size=2))],
    }.get(command, [])
    if draw(st.integers(0, 9)) == 0:
        positional = positional[:-1] + draw(st.lists(ODD, max_size=2))  # a missing or extra argument
    names = draw(st.lists(st.sampled_from(option_names), max_size=4, unique=True))
    options = [
        piece
        for name in names
        if name != "-h" or draw(st.integers(0, 20)) == 0
        for piece in draw(OPTIONS[name])
    ]
    if running is not None:
        options += ["--state-dir", str(running.state_dir)]
    front = draw(st.lists(st.sampled_from(["-q", "-v", "-vv"]), max_size=2))
    split = draw(st.integers(0, len(options)))
    return [*front, command, app_dir, *options[:split], *positional, *options[split:]]


# -- in-process --------------------------------------------------------------------------------------


@fuzz(400)
@given(data=st.data())
@example(data=None)
def test_any_command_line_ends_with_a_status_and_a_typed_error(apps: dict[str, str], data: Any) -> None:
    if data is None:  # the examples from the issue, always run
        for argv in (
            ["exec", apps["valid"], "app:echo", "[" * 10_000 + "]" * 10_000],
            ["exec", apps["valid"], "app:echo", '"\\ud800"'],
            ["exec", apps["valid"], "app:echo", "18446744073709551616"],
            ["exec", apps["valid"], "app:echo", "NaN"],
            ["exec", apps["valid"], "app:echo", "--timeout", "nan"],
            ["exec", apps["valid"], "app:echo", "--timeout", "-1"],
            ["ps", apps["valid"], "-q"],
            ["exec", apps["valid"], "app:echo", "--set", "cluster.nats.address=" + BOMB],
            ["run", apps["valid"], "--state-dir", "/dev/null"],
        ):
            run_cli(argv).check()
        return
    run_cli(data.draw(command_lines(apps), label="argv")).check()


def test_what_the_issue_reported_is_refused_clearly(apps: dict[str, str]) -> None:
    """Each was a traceback, an accepted NaN or a hang before; now one typed line each."""
    valid = apps["valid"]
    deep = "[" * 10_000 + "]" * 10_000
    cases = [
        (["exec", valid, "app:echo", deep], "error: INVALID: argument 1: nested more than 200 levels deep"),
        (
            ["exec", valid, "app:echo", '"\\ud800"'],
            "error: INVALID: argument 1: a string holds a lone surrogate",
        ),
        (
            ["exec", valid, "app:echo", "18446744073709551616"],
            "error: INVALID: argument 1: integer 18446744073709551616",
        ),
        (["exec", valid, "app:echo", "NaN"], "error: INVALID: argument 1: NaN is not a JSON number"),
        (["exec", valid, "app:nope"], "error: NOT_FOUND: entry 'app:nope' not found"),
        (
            ["exec", valid, "app:echo", "--set", "cluster.nats.address=" + BOMB],
            "error: INVALID: --set cluster.nats.address: YAML line 1: too large once its aliases are expanded",
        ),
        (
            ["ps", valid, "--node", "../../elsewhere"],
            "error: INVALID: --node '../../elsewhere': 1-64 letters",
        ),
        (["ps", valid, "-q"], f"error: UNAVAILABLE: no actorflow app is running in {valid}"),
    ]
    for argv, expected in cases:
        ran = run_cli(argv)
        ran.check(may_start=False)
        assert any(line.startswith(expected) for line in ran.err.splitlines()), (argv, ran.err)


def test_main_called_again_in_one_process_does_not_pile_up_log_handlers(apps: dict[str, str]) -> None:
    import logging

    run_cli(["check", apps["valid"]])
    count = len(logging.getLogger().handlers)
    for _ in range(3):
        run_cli(["check", apps["valid"]])
    assert len(logging.getLogger().handlers) == count


# -- against a running app ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def running(apps: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningApp]:
    with RunningApp(Path(apps["valid"]), tmp_path_factory.mktemp("cli_fuzz_state")) as app:
        yield app
        status, _ = app.interrupt()
        assert status == 0, app.output()


@fuzz(200)
@given(data=st.data())
def test_operator_commands_against_a_running_app_end_with_a_status_and_a_typed_error(
    apps: dict[str, str], running: RunningApp, data: Any
) -> None:
    argv = data.draw(command_lines(apps, running), label="argv")
    run_cli(argv).check(may_start=False)
    assert running.process.poll() is None, running.output()  # the app is still up


def test_a_running_app_answers_odd_names_and_payloads_with_typed_errors(
    apps: dict[str, str], running: RunningApp
) -> None:
    state = ["--state-dir", str(running.state_dir)]
    spawned = run_cli(
        ["spawn", apps["valid"], "app:echo", "app:processes", '{"a": [1, 2.5, "é"]}', "--json", *state]
    )
    spawned.check(may_start=False)
    assert spawned.status == 0 and json.loads(spawned.out)["pid"].startswith("{app:processes|")
    for argv, expected in (
        (["send", apps["valid"], "{app:processes|0xffff}", "t", "1"], "error: NOT_FOUND: "),
        (
            ["send", apps["valid"], "nobody", "t", "[NaN]"],
            "error: INVALID: argument 1: NaN is not a JSON number",
        ),
        (["spawn", apps["valid"], "app:nope", "app:processes"], "error: NOT_FOUND: "),
        (["spawn", apps["valid"], "app:echo", "nohost"], "error: NOT_FOUND: "),
        (["query", apps["valid"], "wf-1", "state"], "error: "),
    ):
        ran = run_cli([*argv, *state])
        ran.check(may_start=False)
        assert ran.status == 1 and any(line.startswith(expected) for line in ran.err.splitlines()), (
            argv,
            ran.err,
        )


# -- real subprocesses ----------------------------------------------------------------------------------


def _actorflow(*args: bytes | str, timeout: float = 60.0) -> subprocess.CompletedProcess[bytes]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return subprocess.run(
        [sys.executable, "-m", "actorflow.cli", *args],
        capture_output=True,
        timeout=timeout,
        env=env,
        cwd=ROOT,
    )


@pytest.mark.parametrize(
    ("args", "status", "expected"),
    [
        (
            ["exec", "{valid}", "app:echo", "[" * 60_000 + "]" * 60_000],
            1,
            b"error: INVALID: argument 1: nested",
        ),
        (["exec", "{valid}", b"app:\xff\xfe"], 1, b"error: NOT_FOUND: entry 'app:\\udcff\\udcfe' not found"),
        (
            ["exec", "{valid}", "app:echo", b'"\xff"'],
            1,
            b"error: INVALID: argument 1: a string holds a lone surrogate",
        ),
        (
            ["exec", "{valid}", "app:echo", "--timeout", "nan"],
            2,
            b"actorflow exec: error: argument --timeout",
        ),
        (["check", b"/nonexistent/\xff"], 1, b"error: NOT_FOUND: app /nonexistent/\\udcff does not exist"),
        (["ps", "{valid}", "-q", "--json"], 2, b"error: UNAVAILABLE: no actorflow app is running"),
        (
            ["exec", "{valid}", "app:echo", "--set", "cluster.nats.address=" + BOMB],
            1,
            b"error: INVALID: --set",
        ),
        (["run", "{valid}", "--state-dir", "/dev/null"], 1, b"error: INVALID: /dev/null: File exists"),
        (["exec", "{valid}", "app:echo", "1", '"\\u00e9"', "-q"], 0, b""),
    ],
    ids=[
        "deep-json",
        "invalid-utf8-entry",
        "invalid-utf8-json",
        "nan-timeout",
        "invalid-utf8-app",
        "no-app",
        "yaml-bomb",
        "state-dir-a-file",
        "valid",
    ],
)
def test_real_command_lines_end_with_a_status_and_a_typed_error(
    apps: dict[str, str], args: list[Any], status: int, expected: bytes
) -> None:
    argv = [arg.replace("{valid}", apps["valid"]) if isinstance(arg, str) else arg for arg in args]
    began = time.monotonic()
    done = _actorflow(*argv)
    assert time.monotonic() - began < 30
    assert done.returncode == status, done.stderr.decode(errors="replace")
    assert b"Traceback" not in done.stderr
    if expected:
        assert expected in done.stderr, done.stderr.decode(errors="replace")
    else:
        assert json.loads(done.stdout.decode().strip().splitlines()[-1]) == {"1": 1, "2": "é", "n": 2}
