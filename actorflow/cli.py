"""The ``actorflow`` command.

Running apps:

* ``actorflow run APP_DIR`` starts the app (Temporal, hosts, workers, HTTP
  services, services) in dependency order, prints what runs, and serves
  until SIGINT/SIGTERM or ``actorflow stop``; exit status 0 after a clean stop.
* ``actorflow exec APP_DIR ENTRY [JSON_ARG ...]`` starts the app, runs one
  entry to completion, prints its return value as JSON on the last line of
  stdout and stops.  Exit status 0 on success, 1 with the error's kind and
  message on stderr otherwise.
* ``actorflow check APP_DIR`` only loads and validates.

``run`` and ``exec`` take ``--node NAME`` to run the app as that node of a
cluster (and ``--set cluster.KEY=VALUE`` for the other cluster settings, see
``docs/cluster.md``); the operator commands take ``--node NAME`` to pick the
node to ask when several nodes of the app run on this machine.

Looking at a running app (through its control socket; exit status 2 when no
app runs there): ``ps``, ``tree``, ``send``, ``spawn``, ``workflows``,
``update`` and ``query`` (a workflow's Temporal update or query), ``stop``;
tables for people, ``--json`` for scripts.

Usage errors exit with 2.  Progress goes to stderr (``-q`` silences it); the
Lua programs' own logs and ``print`` go to stderr at INFO, the runtime's at
WARNING (``-v`` for more).
"""

from __future__ import annotations

import argparse
import errno
import logging
import os
import re
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from actorflow._jsonio import parse_json_argument, to_json_text
from actors import errors
from actors.entries import AppLoadError

__all__ = ["main"]

NO_APP = 2


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    _configure_logging(args.verbose, args.quiet, getattr(args, "log_level", None))
    progress = _Progress(quiet=args.quiet)
    try:
        return _COMMANDS[args.command](args, progress)
    except AppLoadError as err:
        print(f"error: {err.kind()}: {err.message()}", file=sys.stderr)
        return 1
    except errors.Error as err:
        print(f"error: {err.kind()}: {err.message()}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except OSError as exc:  # a state dir that is a file, a directory we may not write…: say which
        error = _os_error(exc)
        print(f"error: {error.kind()}: {error.message()}", file=sys.stderr)
        return 1
    except Exception as exc:  # never a traceback for the user unless asked
        logging.getLogger("actorflow.cli").debug("unexpected failure", exc_info=True)
        error = errors.from_exception(exc)
        hint = "" if args.verbose else " (-v for details)"
        print(f"error: {error.kind()}: {error.message()}{hint}", file=sys.stderr)
        return 1


def _os_error(exc: OSError) -> errors.Error:
    """An error of the machine (a path, a permission) as a typed error naming the path, not
    as ``INTERNAL: FileExistsError: [Errno 17] …``."""
    kind = {
        errno.EACCES: errors.PERMISSION_DENIED,
        errno.EPERM: errors.PERMISSION_DENIED,
        errno.ENOENT: errors.NOT_FOUND,
    }.get(exc.errno or 0, errors.INVALID)
    where = f"{exc.filename}: " if exc.filename is not None else ""
    return errors.Error(kind, f"{where}{exc.strerror or exc}")


# -- arguments ---------------------------------------------------------------------------------------


def _seconds(text: str) -> float:
    from actorflow._run import positive_seconds

    try:
        return positive_seconds(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _parser() -> argparse.ArgumentParser:
    # -v and -q are accepted before and after the command: the command's copies
    # default to SUPPRESS, so they only override what the top level set.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "-v", "--verbose", action="count", default=argparse.SUPPRESS, help="more logging (-vv: debug)"
    )
    common.add_argument(
        "-q", "--quiet", action="store_true", default=argparse.SUPPRESS, help="no progress lines"
    )
    parser = argparse.ArgumentParser(prog="actorflow", description="Run and look at actorflow apps.")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more logging (-vv: debug)")
    parser.add_argument("-q", "--quiet", action="store_true", default=False, help="no progress lines")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, text: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=text, description=text, parents=[common])
        sub.add_argument("app", help="the app directory (YAML entries)")
        return sub

    def state_dir(sub: argparse.ArgumentParser) -> None:
        sub.add_argument("--state-dir", help="the app's state directory (default: APP_DIR/.actorflow)")

    def cluster_options(sub: argparse.ArgumentParser) -> None:
        sub.add_argument(
            "--node",
            metavar="NAME",
            help="run as node NAME of a cluster (cluster.enabled=true, cluster.name=NAME)",
        )
        sub.add_argument(
            "--set",
            action="append",
            default=[],
            metavar="cluster.KEY=VALUE",
            help="a cluster setting, over the project's .wippy.yaml (repeatable; e.g. cluster.nats.address=…)",
        )

    run = command("run", "start the app and serve until SIGINT/SIGTERM or actorflow stop")
    state_dir(run)
    cluster_options(run)
    run.add_argument("--ui", action="store_true", help="serve the Temporal Web UI of the embedded server")
    run.add_argument(
        "--log-level",
        choices=["debug", "info", "warning", "error"],
        help="the runtime's log level (default: warning)",
    )

    run_one = command("exec", "run one entry to completion and print its result as JSON")
    run_one.add_argument("entry", help="entry ID, e.g. app:main")
    run_one.add_argument("args", nargs="*", help="arguments, each a JSON value")
    run_one.add_argument("--host", help="host to run on (default: the app's first process.host)")
    run_one.add_argument(
        "--timeout", type=_seconds, default=None, help="stop waiting after this many seconds"
    )
    run_one.add_argument(
        "--on-timeout",
        choices=["cancel", "leave"],
        default="cancel",
        help="a workflow still running at the timeout is cancelled, so its compensation runs (default), "
        "or left running",
    )
    state_dir(run_one)
    cluster_options(run_one)

    command("check", "load and validate an app: every problem with file and line")

    ps = command("ps", "list the processes of a running app")
    tree = command("tree", "show the services and supervision trees of a running app")
    send = command("send", "send a message to a process (PID or registered name) of a running app")
    send.add_argument("dest", metavar="PID|NAME")
    send.add_argument("topic")
    send.add_argument("payload", nargs="?", help="the payload, a JSON value")
    send.add_argument(
        "--wait", type=_seconds, default=None, help="wait this long for replies sent back to us"
    )
    send.add_argument("--replies", type=int, default=-1, help="stop waiting after this many replies")
    spawn = command("spawn", "start an entry in a running app; prints its PID")
    spawn.add_argument("entry")
    spawn.add_argument("host", help="the host (a process.host, or a temporal.worker for a workflow)")
    spawn.add_argument("args", nargs="*", help="arguments, each a JSON value")
    workflows = command(
        "workflows", "list the running (or --closed) workflows of a running app, from Temporal"
    )
    workflows.add_argument("--closed", action="store_true", help="closed workflows instead of running ones")
    workflows.add_argument("--limit", type=int, default=100, help="at most this many (default 100)")
    update = command("update", "send a Temporal update to a workflow of a running app; prints its reply")
    query = command("query", "ask a workflow of a running app a Temporal query (pid, state)")
    for sub, what in ((update, "update"), (query, "query")):
        sub.add_argument("dest", metavar="PID|WORKFLOW_ID")
        sub.add_argument("name", help=f"the {what}'s name")
        sub.add_argument("args", nargs="*", help="arguments, each a JSON value")
        sub.add_argument("--client", help="the temporal.client of a workflow ID (when the app has several)")
        sub.add_argument("--wait", type=_seconds, default=30.0, help="wait this long for the answer (30 s)")
    stop = command("stop", "stop a running app (as SIGTERM would) and wait until it has stopped")
    stop.add_argument(
        "--timeout", type=_seconds, default=120.0, help="give up waiting after this many seconds"
    )
    for sub in (ps, tree, send, spawn, workflows, update, query, stop):
        state_dir(sub)
        sub.add_argument(
            "--node", metavar="NAME", help="the node to ask, when several nodes of the app run here"
        )
        sub.add_argument("--json", action="store_true", help="JSON for scripts instead of a table")
    return parser


def _cluster_overrides(args: argparse.Namespace) -> dict[str, Any] | None:
    """``--set cluster.…`` and ``--node`` as the app's cluster overrides (None when neither is given)."""
    from actorflow._cluster import parse_set

    overrides = parse_set(args.set)
    if args.node:
        overrides.update(enabled=True, name=args.node)
    return overrides or None


_NODE_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
"""What a node may be called (cluster.name's rule)."""


def _call_args(values: list[str]) -> list[Any]:
    return [parse_json_argument(value, index) for index, value in enumerate(values, 1)]


def _state_dir(args: argparse.Namespace) -> Path:
    """The state directory of the run to ask: the app's, or one node's (``--node``, or the one
    node of the app running here)."""
    from actorflow._cluster import node_dir
    from actorflow._statedir import CONTROL_SOCKET, lock_holder

    base = Path(args.state_dir).resolve() if args.state_dir else Path(args.app).resolve() / ".actorflow"
    node = getattr(args, "node", None)
    if node is not None:
        if not _NODE_NAME.fullmatch(node):  # a node's name is a directory of the state dir
            raise errors.Error(errors.INVALID, f"--node {node!r}: 1-64 letters, digits, '-' or '_'")
        return node_dir(base, node)
    nodes = base / "nodes"
    if (base / CONTROL_SOCKET).exists() or not nodes.is_dir():
        return base
    running = sorted(path.name for path in nodes.iterdir() if path.is_dir() and lock_holder(path))
    if len(running) > 1:
        raise errors.Error(
            errors.INVALID, f"several nodes of {args.app} run here ({', '.join(running)}): give --node NAME"
        )
    return node_dir(base, running[0]) if running else base


# -- commands ----------------------------------------------------------------------------------------


def _check(args: argparse.Namespace, progress: _Progress) -> int:
    from actorflow.app import load

    registry = load(args.app)
    progress(f"{args.app}: {len(registry)} entries, all valid")
    return 0


def _run(args: argparse.Namespace, progress: _Progress) -> int:
    from actorflow._run import Signals, run_app, write_out
    from actorflow.app import App

    app = App(
        args.app,
        state_dir=args.state_dir,
        progress=progress,
        temporal_ui=args.ui,
        lock=True,
        cluster=_cluster_overrides(args),
    )
    progress(f"{len(app.registry)} entries loaded from {args.app}")
    # Only now: until something runs, SIGINT/SIGTERM end the command at once (a load or a
    # bad argument that takes long is not left running with the signal merely noted).
    signals = Signals().install()
    status, clean = run_app(app, progress, write_out, signals)
    return _leave(status, clean)


def _exec(args: argparse.Namespace, progress: _Progress) -> int:
    from actorflow._run import Signals, exec_entry, stop_app
    from actorflow.app import App
    from wippy_compat.terminal import TerminalRun

    progress(f"loading {args.app}")
    app = App(args.app, state_dir=args.state_dir, progress=progress, cluster=_cluster_overrides(args))
    progress(f"{len(app.registry)} entries loaded")
    app.registry.require(args.entry)  # NOT_FOUND before anything starts, not after
    # On a terminal entry, as `wippy run -x`: string arguments, the process's own stdout, its
    # result as the exit status.  Decided from the registry, so JSON arguments of any other
    # entry are still refused before anything starts.
    terminal = None if args.host else TerminalRun.for_entry(app.registry, args.entry, args.args)
    call_args: list[Any] = list(args.args) if terminal is not None else _call_args(args.args)
    signals = Signals().install()  # as in _run: only once the app is about to start
    app.start(abort=signals.requested)
    started = time.monotonic()
    status: int | None = None
    try:
        progress(f"running {args.entry}")
        outcome = exec_entry(
            app,
            args.entry,
            call_args,
            host=terminal.attach(app) if terminal is not None else args.host,
            timeout=args.timeout,
            on_timeout=args.on_timeout,
            signals=signals,
            progress=progress,
        )
        if terminal is not None:  # read before the app stops: system.exit's status lives in the node
            status = terminal.status(app, outcome.value, outcome.error)
        progress(f"{args.entry} ended after {time.monotonic() - started:.2f} s; stopping")
    finally:
        clean = stop_app(app, progress)
    if status is not None:  # a terminal entry: its output is what it wrote
        return _leave(status, clean)
    if outcome.error is not None:
        print(f"error: {outcome.error.kind()}: {outcome.error.message()}", file=sys.stderr)
        return _leave(130 if outcome.error.kind() == errors.CANCELED else 1, clean)
    sys.stdout.write(to_json_text(outcome.value) + "\n")
    sys.stdout.flush()
    return _leave(0, clean)


def _leave(status: int, clean: bool) -> int:
    """Exit with ``status`` at once, the app being stopped (``clean`` or cut short).

    Not through the interpreter's exit: it joins every thread a thread pool
    ever started, and a workflow stuck in a Lua loop holds one of Temporal's
    forever (temporalio can also crash in its own teardown, sdk-python issue
    300).  Everything the app started has been stopped; output is flushed.
    """
    logging.getLogger("actorflow.cli").debug("leaving with status %d (clean stop: %s)", status, clean)
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)


def _ask(args: argparse.Namespace, op: str, /, **fields: Any) -> Any:
    from actorflow.control import NoAppRunning, request

    try:
        return request(_state_dir(args), op, **fields)
    except NoAppRunning as exc:
        raise _NoApp(args.app, str(exc)) from None


class _NoApp(Exception):
    def __init__(self, app: str, detail: str) -> None:
        super().__init__(
            f"no actorflow app is running in {app} ({detail}); start it with: actorflow run {app}"
        )


def _operator(handler: Any) -> Any:
    def command(args: argparse.Namespace, progress: _Progress) -> int:
        try:
            result = handler(args)
        except _NoApp as exc:
            print(f"error: {errors.UNAVAILABLE}: {exc}", file=sys.stderr)
            return NO_APP
        if args.json:
            print(to_json_text(result, indent=2))
        elif isinstance(result, str):
            print(result)
        return 0

    return command


@_operator
def _ps(args: argparse.Namespace) -> Any:
    from actorflow._tables import format_processes

    rows = _ask(args, "ps")
    return rows if args.json else format_processes(rows)


@_operator
def _tree(args: argparse.Namespace) -> Any:
    from actorflow._tables import format_services

    tree = _ask(args, "tree")
    return tree if args.json else format_services(tree)


@_operator
def _send(args: argparse.Namespace) -> Any:
    payloads = [parse_json_argument(args.payload, 1)] if args.payload is not None else []
    wait = args.wait or 0.0
    result = _ask(
        args, "send", to=args.dest, topic=args.topic, payloads=payloads, wait=wait, replies=args.replies,
        timeout=wait + 30.0,
    )  # fmt: skip
    if args.json:
        return result
    lines = [f"sent {args.topic} to {result['to']}"]
    for reply in result["replies"]:
        payload = "" if reply["payload"] is None else "  " + to_json_text(reply["payload"])
        lines.append(f"{reply['topic']}{payload}")
    if args.wait and not result["replies"]:
        lines.append(f"no reply within {wait:g} s")
    return "\n".join(lines)


@_operator
def _spawn(args: argparse.Namespace) -> Any:
    result = _ask(args, "spawn", entry=args.entry, host=args.host, args=_call_args(args.args))
    return result if args.json else result["pid"]


@_operator
def _workflows(args: argparse.Namespace) -> Any:
    from actorflow._tables import format_workflows

    rows = _ask(args, "workflows", closed=args.closed, limit=args.limit)
    return rows if args.json else format_workflows(rows, closed=args.closed)


def _temporal_message(op: str) -> Any:
    """``update`` / ``query``: answered in the app by temporal_bridge.cli_commands."""

    def handler(args: argparse.Namespace) -> Any:
        result = _ask(
            args, op, to=args.dest, name=args.name, args=_call_args(args.args), client=args.client,
            wait=args.wait, timeout=args.wait + 10.0,
        )  # fmt: skip
        return result if args.json else to_json_text(result["value"])

    return _operator(handler)


@_operator
def _stop(args: argparse.Namespace) -> Any:
    from actorflow._statedir import lock_holder

    state_dir = _state_dir(args)
    answer = _ask(args, "stop")
    pid = answer.get("pid")
    deadline = time.monotonic() + args.timeout
    while lock_holder(state_dir) is not None:
        if time.monotonic() > deadline:
            raise errors.Error(errors.TIMEOUT, f"app (pid {pid}) still stopping after {args.timeout:g} s")
        time.sleep(0.05)
    return {"stopped": True, "pid": pid} if args.json else f"stopped {args.app} (pid {pid})"


_COMMANDS = {
    "run": _run,
    "exec": _exec,
    "check": _check,
    "ps": _ps,
    "tree": _tree,
    "send": _send,
    "spawn": _spawn,
    "workflows": _workflows,
    "update": _temporal_message("update"),
    "query": _temporal_message("query"),
    "stop": _stop,
}


# -- output ------------------------------------------------------------------------------------------


class _Progress:
    def __init__(self, *, quiet: bool) -> None:
        self.quiet = quiet

    def __call__(self, message: str) -> None:
        if not self.quiet:
            print(f"· {message}", file=sys.stderr, flush=True)


class _LuaFormatter(logging.Formatter):
    """Lua programs' log lines: the entry, then the message (a warning says so)."""

    def format(self, record: logging.LogRecord) -> str:
        entry = getattr(record, "entry", None) or record.name.removeprefix("actors.lua.")
        level = "" if record.levelno <= logging.INFO else f"{record.levelname.lower()}: "
        return f"  {entry:<22} {level}{record.getMessage()}"


_installed: list[tuple[logging.Logger, logging.Handler]] = []
"""The handlers the last ``main`` call added (replaced by the next one: ``main`` may run in-process)."""


def _configure_logging(verbose: int, quiet: bool, level_name: str | None = None) -> None:
    for installed_on, installed in _installed:
        installed_on.removeHandler(installed)
    _installed.clear()
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    lua_handler = logging.StreamHandler(sys.stderr)
    lua_handler.setFormatter(_LuaFormatter())
    lua = logging.getLogger("actors.lua")
    lua.addHandler(lua_handler)
    lua.propagate = False
    _installed.extend(((root, handler), (lua, lua_handler)))
    level = logging.DEBUG if verbose >= 2 else logging.INFO if verbose == 1 else logging.WARNING
    if level_name:
        level = getattr(logging, level_name.upper())
    root.setLevel(level)
    logging.getLogger("actors.lua").setLevel(logging.WARNING if quiet else logging.INFO)
    if level > logging.DEBUG:
        logging.getLogger("temporalio").setLevel(logging.WARNING)
        logging.getLogger("uvicorn").setLevel(logging.WARNING)
    if level > logging.INFO:
        # A function returning an error fails its activity: expected, and the
        # Lua program says what happened; temporalio would print a traceback.
        logging.getLogger("temporalio.activity").setLevel(logging.ERROR)


if __name__ == "__main__":
    sys.exit(main())
