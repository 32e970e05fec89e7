"""The ``actorflow`` command.

``actorflow exec APP_DIR ENTRY [JSON_ARG ...]`` loads the app (validating
every entry), starts its hosts, runs one entry to completion with the given
arguments, prints its return value as JSON on the last line of stdout and
stops.  Exit status 0 on success; 1 with the error's kind and message on
stderr otherwise; 2 for a usage error.

``actorflow check APP_DIR`` only loads and validates.

Progress goes to stderr (``-q`` silences it); the Lua programs' own logs and
``print`` go to stderr at INFO, the runtime's at WARNING (``-v`` for more).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from collections.abc import Sequence
from typing import Any

from actors import errors
from actors.entries import AppLoadError

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    _configure_logging(args.verbose, args.quiet)
    progress = _Progress(quiet=args.quiet)
    try:
        if args.command == "check":
            return _check(args, progress)
        return _exec(args, progress)
    except AppLoadError as err:
        print(f"error: {err.kind()}: {err.message()}", file=sys.stderr)
        return 1
    except errors.Error as err:
        print(f"error: {err.kind()}: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="actorflow", description="Run actorflow apps.")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more logging (-vv: debug)")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress lines")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("exec", help="run one entry to completion and print its result as JSON")
    run.add_argument("app", help="app directory (YAML entries)")
    run.add_argument("entry", help="entry ID, e.g. app:main")
    run.add_argument("args", nargs="*", help="arguments, each a JSON value")
    run.add_argument("--host", help="host to run on (default: the app's first process.host)")
    run.add_argument("--timeout", type=float, default=None, help="give up after this many seconds")
    run.add_argument("--state-dir", help="where durable state lives (default: APP_DIR/.actorflow)")
    check = commands.add_parser("check", help="load and validate an app")
    check.add_argument("app", help="app directory (YAML entries)")
    return parser


def _parse_args(values: list[str]) -> list[Any]:
    parsed = []
    for index, value in enumerate(values, 1):
        try:
            parsed.append(json.loads(value))
        except json.JSONDecodeError as exc:
            raise errors.Error(errors.INVALID, f"argument {index} is not JSON ({exc.msg}): {value}") from None
    return parsed


def _check(args: argparse.Namespace, progress: _Progress) -> int:
    from actorflow.app import default_extensions
    from actors.entries import load_app

    default_extensions()  # registers the kinds other packages own
    registry = load_app(args.app)
    progress(f"{args.app}: {len(registry)} entries, all valid")
    return 0


def _exec(args: argparse.Namespace, progress: _Progress) -> int:
    from actorflow.app import App

    call_args = _parse_args(args.args)
    progress(f"loading {args.app}")
    app = App(args.app, state_dir=args.state_dir, progress=progress)
    progress(f"{len(app.registry)} entries loaded")
    started = time.monotonic()
    with app:
        progress(f"running {args.entry}")
        value = app.exec(args.entry, *call_args, host=args.host, timeout=args.timeout)
        elapsed = time.monotonic() - started
        progress(f"{args.entry} finished in {elapsed:.2f} s; stopping")
    try:
        text = json.dumps(value, ensure_ascii=False, default=_json_default)
    except (TypeError, ValueError) as exc:
        raise errors.Error(errors.INVALID, f"result is not JSON-encodable: {exc}") from None
    sys.stdout.write(text + "\n")
    sys.stdout.flush()
    return 0


def _json_default(value: Any) -> Any:
    if isinstance(value, errors.Error):
        return {"kind": value.kind(), "message": value.message()}
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


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


def _configure_logging(verbose: int, quiet: bool) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    lua_handler = logging.StreamHandler(sys.stderr)
    lua_handler.setFormatter(_LuaFormatter())
    lua = logging.getLogger("actors.lua")
    lua.addHandler(lua_handler)
    lua.propagate = False
    root.setLevel(logging.DEBUG if verbose >= 2 else logging.INFO if verbose == 1 else logging.WARNING)
    logging.getLogger("actors.lua").setLevel(logging.WARNING if quiet else logging.INFO)
    if verbose < 2:
        logging.getLogger("temporalio").setLevel(logging.WARNING)
    if verbose < 1:
        # A function returning an error fails its activity: expected, and the
        # Lua program says what happened; temporalio would print a traceback.
        logging.getLogger("temporalio.activity").setLevel(logging.ERROR)


if __name__ == "__main__":
    sys.exit(main())
