"""``terminal.host`` and the ``io`` module: processes that own the terminal.

A ``terminal.host`` entry is a process host (one worker) whose processes
own a :class:`Terminal`: stdin, stdout, stderr and the command-line
arguments.  Only a ``process.lua`` running there may use ``io``
(``en/lua/system/io.md``); anywhere else every ``io`` call answers
``nil, PERMISSION_DENIED``, and ``io.args()`` an empty table.

``actorflow exec APP app:entry ARGS…`` runs an entry on the app's terminal
host when it has one (as ``wippy run -x`` does, :func:`run_on_terminal`):
what the process writes goes to the real stdout and stderr as it writes it,
``io.readline`` reads the real stdin (pipes work), the arguments are strings
(``io.args()`` and the function's arguments), and an integer result is the
exit status.

Reads wait without holding the host: ``io.read``/``io.readline`` suspend
the calling coroutine while a reader thread waits on stdin.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import resources
from typing import Any, BinaryIO

from actorflow.units import HostUnit
from actors import ProcessHost, errors
from actors.entries import Entry, KindSpec, Registry, check_lifecycle, register_kind
from actors.lua import Caller, register_module
from wippy_compat._context import caller_pid

__all__ = [
    "Terminal",
    "TerminalHost",
    "TerminalHostUnit",
    "TerminalRun",
    "exit_status",
    "run_on_terminal",
    "terminal_host_for",
    "terminal_units",
]

MAX_READ = 1024 * 1024
"""The most bytes one ``io.read`` returns; a line longer than this is returned in pieces."""


@dataclass
class Terminal:
    """What the processes of a terminal host own: binary streams and the arguments.

    ``None`` streams mean the real ones of this OS process (looked up at each
    call, so a test that replaces ``sys.stdout`` sees the output).
    """

    stdin: BinaryIO | None = None
    stdout: BinaryIO | None = None
    stderr: BinaryIO | None = None
    args: list[str] = field(default_factory=list)
    _read_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def _out(self, which: str) -> BinaryIO:
        stream = getattr(self, which)
        if stream is not None:
            return stream
        text = getattr(sys, which)
        return getattr(text, "buffer", text)

    def write(self, which: str, data: bytes) -> None:
        stream = self._out(which)
        if which == "stderr":
            sys.stdout.flush()  # what was printed before appears before
        stream.write(data)
        stream.flush()

    def flush(self) -> None:
        self._out("stdout").flush()

    def read(self, count: int) -> bytes:
        stream = self._out("stdin")
        with self._read_lock:
            reader = getattr(stream, "read1", None)
            return reader(count) if reader is not None else stream.read(count)

    def readline(self) -> bytes:
        stream = self._out("stdin")
        with self._read_lock:
            return stream.readline(MAX_READ)


class TerminalHost(ProcessHost):
    """A process host whose processes own a terminal (one worker: a terminal is one session)."""

    def __init__(self, node: Any, host_id: str, terminal: Terminal | None = None) -> None:
        super().__init__(node, host_id, workers=1)
        self.terminal = terminal or Terminal()


# -- the io module ---------------------------------------------------------------------------------


def _terminal(caller: Caller) -> Terminal:
    """The caller's terminal; ``PERMISSION_DENIED`` for a program that does not run on a terminal host."""
    node = caller.node
    if node is not None:
        pid = caller_pid(caller)
        try:
            host = node.host(pid.host) if not pid.node else None  # local hosts only
        except errors.Error:
            host = None
        if isinstance(host, TerminalHost):
            entries = node.kinds.entries
            entry = entries.get(caller.entry_id) if entries is not None else None
            if entry is None or entry.kind == "process.lua":
                return host.terminal
    raise errors.Error(
        errors.PERMISSION_DENIED,
        "io is available only to processes on a terminal.host (run the entry there, e.g. actorflow exec)",
    )


def _write(caller: Caller, which: str, data: Any) -> bool:
    terminal = _terminal(caller)
    try:
        terminal.write(which, data if isinstance(data, bytes) else str(data).encode())
    except (OSError, ValueError) as exc:
        raise errors.Error(errors.INTERNAL, f"io: write failed: {exc}") from None
    return True


def _flush(caller: Caller) -> bool:
    terminal = _terminal(caller)
    try:
        terminal.flush()
    except (OSError, ValueError) as exc:
        raise errors.Error(errors.INTERNAL, f"io.flush: {exc}") from None
    return True


def _args(caller: Caller) -> list[str]:
    try:
        return list(_terminal(caller).args)
    except errors.Error:
        return []  # never fails, as the page says


def _reader(caller: Caller, line: bool, count: Any = None) -> None:
    """``io.read``/``io.readline``: a thread waits on stdin while the coroutine is suspended."""
    terminal = _terminal(caller)
    size = count if isinstance(count, int) and not isinstance(count, bool) and count > 0 else 1024
    size = min(size, MAX_READ)
    resume = caller.suspend()

    def read() -> None:
        try:
            data = terminal.readline() if line else terminal.read(size)
        except (OSError, ValueError) as exc:
            resume(None, errors.Error(errors.INTERNAL, f"io: read failed: {exc}"))
            return
        if line:
            if not data:
                resume(None, errors.Error(errors.INTERNAL, "EOF"))
                return
            resume(data.rstrip(b"\r\n"), None)
            return
        if not data and size:
            resume(None, errors.Error(errors.INTERNAL, "EOF"))
            return
        resume(data, None)

    threading.Thread(target=read, name="terminal-read", daemon=True).start()


register_module(
    "io",
    resources.files(__package__) / "lua" / "io.lua",
    {
        "write": _write,
        "flush": _flush,
        "args": _args,
        "read": lambda caller, count: _reader(caller, False, count),
        "readline": lambda caller: _reader(caller, True),
    },
    in_workflows=False,
    waiting=("read", "readline"),
)


# -- the kind and the CLI --------------------------------------------------------------------------


def _check_terminal(entry: Entry, registry: Registry) -> list[str]:
    """As a ``process.host``: a host starts first and stops with the app (only ``auto_start: true``)."""
    messages = check_lifecycle(entry, registry)
    lifecycle = entry.data.get("lifecycle")
    if isinstance(lifecycle, dict):
        messages.extend(
            f"lifecycle.{key} is not supported on a terminal.host: hosts start first, once, and "
            "stop with the app; a terminal.host honours auto_start: true"
            for key, value in lifecycle.items()
            if not (key == "auto_start" and value is True)
        )
    hide = entry.data.get("hide_logs")
    if hide is not None and not isinstance(hide, bool):
        messages.append("hide_logs must be true or false")
    return messages


register_kind(
    KindSpec(
        "terminal.host", check=_check_terminal, description="a process host whose processes own the terminal"
    )
)


class TerminalRun:
    """One ``actorflow exec`` of a terminal entry, as ``wippy run -x`` runs it.

    :meth:`for_entry` decides from the registry alone (before the app starts)
    whether the entry runs on the terminal; :meth:`attach` gives the started
    app's terminal host a :class:`Terminal` with the arguments (strings);
    :meth:`status` turns how the process ended into the exit status.
    """

    def __init__(self, host_id: str, args: Sequence[str]) -> None:
        self.host_id = host_id
        self.args = [str(arg) for arg in args]

    @classmethod
    def for_entry(cls, registry: Registry, entry_id: str, args: Sequence[str]) -> TerminalRun | None:
        """The run on the app's only ``terminal.host``, for a ``process.lua`` entry; ``None`` otherwise
        (the entry runs as any other, its arguments JSON)."""
        host_id = terminal_host_for(registry, entry_id)
        return cls(host_id, args) if host_id is not None else None

    def attach(self, app: Any, terminal: Terminal | None = None) -> str:
        """Give the terminal host of started ``app`` its terminal; the host's ID."""
        host = app.require_node().host(self.host_id)
        if not isinstance(host, TerminalHost):
            raise errors.Error(errors.INVALID, f"{self.host_id} is not a terminal.host")
        host.terminal = terminal or Terminal()
        host.terminal.args = list(self.args)
        return self.host_id

    def status(self, app: Any, value: Any, error: errors.Error | None) -> int | None:
        """The exit status (``system.exit`` wins over the result); ``None`` when the process failed."""
        from wippy_compat.system import requested_exit

        code = requested_exit(app.require_node())
        if code is not None:
            return code
        return None if error is not None else exit_status(value)


def terminal_host_for(registry: Registry, entry_id: str) -> str | None:
    """The terminal host ``actorflow exec`` runs ``entry_id`` on: the app's only ``terminal.host``,
    for a ``process.lua`` entry; ``None`` otherwise (it runs as any other entry)."""
    hosts = registry.of_kind("terminal.host")
    entry = registry.get(entry_id)
    if len(hosts) != 1 or entry is None or entry.kind != "process.lua":
        return None
    return hosts[0].id


def exit_status(value: Any) -> int:
    """The exit status of a terminal process that returned ``value``: an integer is it (0-255)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value & 0xFF
    return 0


def run_on_terminal(
    app: Any,
    entry_id: str,
    host_id: str,
    args: Sequence[str],
    *,
    timeout: float | None = None,
    terminal: Terminal | None = None,
) -> int:
    """Run ``entry_id`` on terminal host ``host_id`` of a started ``app`` with string ``args``;
    its exit status (``system.exit`` wins over the result).  Raises the process's error.

    For embedding and tests; ``actorflow exec`` does the same through :class:`TerminalRun`."""
    run = TerminalRun(host_id, args)
    run.attach(app, terminal)
    try:
        value = app.exec(entry_id, *run.args, host=host_id, timeout=timeout)
    except errors.Error as error:
        status = run.status(app, None, error)
        if status is None:
            raise
        return status
    status = run.status(app, value, None)
    assert status is not None
    return status


class TerminalHostUnit(HostUnit):
    """A ``terminal.host``: started and stopped with the app as any process host is."""

    def start(self) -> None:
        node = self.app.require_node()
        self.host = TerminalHost(node, self.id)
        node.add_host(self.host)
        self.app.progress(f"started terminal host {self.id} (1 worker)")


def terminal_units(app: Any) -> list[TerminalHostUnit]:
    """One unit per ``terminal.host`` entry."""
    return [TerminalHostUnit(app, entry.id, entry) for entry in app.registry.of_kind("terminal.host")]
