"""The control endpoint of a running app, and the client the operator commands use.

``actorflow run`` listens on a Unix socket, ``control.sock`` in the app's
state directory.  Only the user who started the app can use it: the state
directory is mode 0700, the socket 0600, and every connection's peer
credentials (``SO_PEERCRED``) must name the same user ID.

The protocol is one JSON object per line each way: ``{"op": "ps", …}``
answered by ``{"ok": true, "result": …}`` or ``{"ok": false, "error":
{"kind": …, "message": …}}``.  Operations: ``ping``, ``ps``, ``tree``,
``workflows``, ``send``, ``spawn``, ``stop``, ``status``.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import socket
import socketserver
import struct
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from actorflow import _inspect
from actorflow._jsonio import to_json_text
from actorflow._statedir import CONTROL_SOCKET
from actors import errors

if TYPE_CHECKING:
    from actorflow.app import App

__all__ = ["ControlServer", "NoAppRunning", "request", "socket_path"]

logger = logging.getLogger("actorflow.control")

MAX_REQUEST = 1024 * 1024
"""The largest request line the endpoint reads (a send's payload included)."""
MAX_REPLY = 256 * 1024 * 1024
_UNIX_PATH_MAX = 100


class NoAppRunning(Exception):
    """Nothing answers on the state directory's control socket."""


def socket_path(state_dir: Path) -> Path:
    return state_dir / CONTROL_SOCKET


def _address(path: Path) -> tuple[str, int | None]:
    """A path ``bind``/``connect`` accept: a long one goes through an open descriptor of its directory."""
    if len(str(path)) < _UNIX_PATH_MAX:
        return str(path), None
    fd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    return f"/proc/self/fd/{fd}/{path.name}", fd


class _Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True
    allow_reuse_address = True
    control: ControlServer


class _Handler(socketserver.StreamRequestHandler):
    server: _Server

    def handle(self) -> None:
        control = self.server.control
        credentials = self.request.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
        _pid, uid, _gid = struct.unpack("3i", credentials)
        if uid != os.getuid():
            logger.warning("control connection from user %d refused", uid)
            self._reply({"ok": False, "error": {"kind": errors.PERMISSION_DENIED, "message": "not your app"}})
            return
        line = self.rfile.readline(MAX_REQUEST + 1)
        if len(line) > MAX_REQUEST:
            self._reply(
                {"ok": False, "error": {"kind": errors.LIMIT_EXCEEDED, "message": "request too large"}}
            )
            return
        try:
            message = json.loads(line)
            if not isinstance(message, dict) or not isinstance(message.get("op"), str):
                raise ValueError("expected an object with op")
        except (ValueError, RecursionError) as exc:
            self._reply({"ok": False, "error": {"kind": errors.INVALID, "message": f"bad request: {exc}"}})
            return
        self._reply(control.dispatch(message))

    def _reply(self, reply: dict[str, Any]) -> None:
        try:
            self.wfile.write(to_json_text(reply).encode("utf-8") + b"\n")
            self.wfile.flush()
        except OSError:
            pass  # the client left


class ControlServer:
    """Serves the operator commands for one running app."""

    def __init__(self, app: App, on_stop: Callable[[], None], summary: Callable[[], dict[str, Any]]) -> None:
        self.app = app
        self.on_stop = on_stop
        self.summary = summary
        self.path = socket_path(app.state_dir)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self.path.unlink(missing_ok=True)  # a socket left by a run that died (we hold the state lock)
        address, fd = _address(self.path)
        old_mask = os.umask(0o177)  # the socket file is created 0600
        try:
            server = _Server(address, _Handler, bind_and_activate=True)
        finally:
            os.umask(old_mask)
            if fd is not None:
                os.close(fd)
        os.chmod(self.path, 0o600)
        server.control = self
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, name="actorflow-control", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        self.path.unlink(missing_ok=True)

    def dispatch(self, message: dict[str, Any]) -> dict[str, Any]:
        op = message["op"]
        handler = getattr(self, f"_op_{op}", None)
        if handler is None:
            return {"ok": False, "error": {"kind": errors.INVALID, "message": f"unknown operation {op!r}"}}
        try:
            return {"ok": True, "result": handler(message)}
        except errors.Error as err:
            return {"ok": False, "error": {"kind": err.kind(), "message": err.message()}}
        except Exception as exc:
            logger.exception("control operation %s failed", op)
            return {
                "ok": False,
                "error": {"kind": errors.INTERNAL, "message": f"{type(exc).__name__}: {exc}"},
            }

    # -- operations ------------------------------------------------------------------------------------

    def _op_ping(self, message: dict[str, Any]) -> Any:
        return {"pid": os.getpid(), "app": str(self.app.path)}

    def _op_status(self, message: dict[str, Any]) -> Any:
        return self.summary()

    def _op_ps(self, message: dict[str, Any]) -> Any:
        return _inspect.processes(self.app)

    def _op_tree(self, message: dict[str, Any]) -> Any:
        return _inspect.tree(self.app)

    def _op_workflows(self, message: dict[str, Any]) -> Any:
        return _inspect.workflows(
            self.app, closed=bool(message.get("closed")), limit=_int(message, "limit", 100)
        )

    def _op_send(self, message: dict[str, Any]) -> Any:
        payloads = message.get("payloads") or []
        if not isinstance(payloads, list):
            raise errors.Error(errors.INVALID, "payloads must be a list")
        wait = message.get("wait", 0.0)
        if isinstance(wait, bool) or not isinstance(wait, (int, float)):
            raise errors.Error(errors.INVALID, "wait must be a number of seconds")
        return _inspect.send(
            self.app,
            _text(message, "to"),
            _text(message, "topic"),
            tuple(payloads),
            wait=float(wait),
            replies=_int(message, "replies", -1),
        )

    def _op_spawn(self, message: dict[str, Any]) -> Any:
        args = message.get("args") or []
        if not isinstance(args, list):
            raise errors.Error(errors.INVALID, "args must be a list")
        host = message.get("host")
        if host is not None and not isinstance(host, str):
            raise errors.Error(errors.INVALID, "host must be a host ID")
        return _inspect.spawn(self.app, _text(message, "entry"), host, tuple(args))

    def _op_update(self, message: dict[str, Any]) -> Any:
        from temporal_bridge.cli_commands import control_update

        return control_update(self.app, message)

    def _op_query(self, message: dict[str, Any]) -> Any:
        from temporal_bridge.cli_commands import control_query

        return control_query(self.app, message)

    def _op_stop(self, message: dict[str, Any]) -> Any:
        threading.Thread(target=self.on_stop, name="actorflow-stop-request", daemon=True).start()
        return {"stopping": True, "pid": os.getpid()}


def _text(message: dict[str, Any], key: str) -> str:
    value = message.get(key)
    if not isinstance(value, str) or not value:
        raise errors.Error(errors.INVALID, f"{key} must be a non-empty string")
    return value


def _int(message: dict[str, Any], key: str, default: int) -> int:
    value = message.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int):
        raise errors.Error(errors.INVALID, f"{key} must be an integer")
    return value


def request(state_dir: Path, op: str, /, *, timeout: float = 60.0, **fields: Any) -> Any:
    """Ask the app running on ``state_dir``; its result, or its error raised.

    Raises :class:`NoAppRunning` when no app answers there.
    """
    path = socket_path(state_dir)
    if not path.exists():
        raise NoAppRunning(f"no control socket at {path}")
    try:
        address, fd = _address(path)
    except OSError as exc:
        raise NoAppRunning(f"cannot open {path.parent}: {exc.strerror}") from None
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        try:
            sock.connect(address)
        except OSError as exc:
            if exc.errno in (errno.ECONNREFUSED, errno.ENOENT):
                raise NoAppRunning(f"nothing listens on {path} (the app stopped)") from None
            raise errors.Error(errors.UNAVAILABLE, f"cannot connect to {path}: {exc.strerror}") from None
        finally:
            if fd is not None:
                os.close(fd)
        sock.sendall(to_json_text({"op": op, **fields}).encode("utf-8") + b"\n")
        reader = sock.makefile("rb")
        line = reader.readline(MAX_REPLY)
    except TimeoutError:
        raise errors.Error(errors.TIMEOUT, f"the app did not answer {op} within {timeout:g} s") from None
    finally:
        sock.close()
    if not line:
        raise errors.Error(errors.UNAVAILABLE, f"the app closed the connection without answering {op}")
    reply = json.loads(line)
    if not reply.get("ok"):
        error = reply.get("error") or {}
        raise errors.Error(error.get("kind") or errors.INTERNAL, error.get("message") or "unknown error")
    return reply.get("result")
