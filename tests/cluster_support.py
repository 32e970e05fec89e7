"""Driving cluster nodes that run as separate OS processes (``tests/cluster_node.py``)."""

from __future__ import annotations

import itertools
import json
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from actors import Node
from cluster import Cluster

NODE_PROGRAM = Path(__file__).with_name("cluster_node.py")
HEARTBEAT = 0.25
FAILURE_TIMEOUT = 2.0


class NodeError(AssertionError):
    """A command failed on the node: ``kind`` and ``message`` are the node's error."""

    def __init__(self, error: dict[str, Any]) -> None:
        super().__init__(f"{error.get('kind')}: {error.get('message')}")
        self.kind = error.get("kind")
        self.message = error.get("message")
        self.details = error.get("details")


class NodeProc:
    """One node process: ``call`` a command and get its value (or :class:`NodeError`)."""

    def __init__(
        self,
        name: str,
        state_dir: Path,
        *,
        heartbeat: float = HEARTBEAT,
        failure_timeout: float = FAILURE_TIMEOUT,
        app: Path | None = None,
        address: str | None = None,
    ) -> None:
        self.name = name
        argv = [sys.executable, str(NODE_PROGRAM), name, str(state_dir), str(heartbeat), str(failure_timeout)]
        if app is not None:
            argv.append(str(app))
        env = dict(os.environ)
        if address is not None:  # this NATS address rather than the embedded server of state_dir
            env["CLUSTER_NODE_ADDRESS"] = address
        self.process = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            bufsize=1,
            env=env,
        )
        self._ids = itertools.count(1)
        self._replies: dict[int, queue.Queue[dict[str, Any]]] = {}
        self._lock = threading.Lock()
        self._ready: queue.Queue[dict[str, Any]] = queue.Queue()
        self._stderr: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()
        threading.Thread(target=self._read_stderr, daemon=True).start()
        try:
            self.info = self._ready.get(timeout=60)
        except queue.Empty:
            self.kill()
            raise AssertionError(f"node {name} did not start: {''.join(self._stderr)[-2000:]}") from None
        if "ready" not in self.info:
            raise AssertionError(f"node {name} failed to start: {''.join(self._stderr)[-2000:]}")
        self.os_pid = self.process.pid

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            try:
                message = json.loads(line)
            except ValueError:
                continue
            if "ready" in message:
                self._ready.put(message)
                continue
            with self._lock:
                box = self._replies.get(message.get("id"))
            if box is not None:
                box.put(message)
        self._ready.put({"exited": True})

    def _read_stderr(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self._stderr.append(line)

    def call(self, cmd: str, timeout: float = 30, **fields: Any) -> Any:
        command_id = next(self._ids)
        box: queue.Queue[dict[str, Any]] = queue.Queue()
        with self._lock:
            self._replies[command_id] = box
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps({"id": command_id, "cmd": cmd, **fields}) + "\n")
        self.process.stdin.flush()
        try:
            reply = box.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"node {self.name}: no answer to {cmd} in {timeout} s") from None
        finally:
            with self._lock:
                self._replies.pop(command_id, None)
        if not reply["ok"]:
            raise NodeError(reply["error"])
        return reply["value"]

    def agent(self, *, trap: bool = False, name: str | None = None) -> str:
        return self.call("agent", trap=trap, name=name)

    def do(self, agent: str, op: str, **args: Any) -> Any:
        return self.call("do", agent=agent, op=op, args=args)

    def records(self, agent: str) -> list[dict[str, Any]]:
        return self.call("records", agent=agent)

    def kill(self) -> float:
        """SIGKILL the node; the time it was sent."""
        at = time.time()
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(10)
        return at

    def pause(self) -> float:
        """SIGSTOP the node (cut off: it neither runs nor answers); the time it was sent."""
        at = time.time()
        os.kill(self.process.pid, signal.SIGSTOP)
        return at

    def resume(self) -> None:
        os.kill(self.process.pid, signal.SIGCONT)

    def stop(self) -> None:
        if self.process.poll() is not None:
            return
        try:
            assert self.process.stdin is not None
            self.process.stdin.write(json.dumps({"cmd": "stop"}) + "\n")
            self.process.stdin.flush()
            self.process.wait(20)
        except (OSError, subprocess.TimeoutExpired):
            self.kill()

    @property
    def stderr(self) -> str:
        return "".join(self._stderr)


def wait_for(condition: Callable[[], Any], timeout: float = 10.0, what: str = "condition") -> Any:
    """Poll ``condition`` until it returns something truthy; that value.  AssertionError on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.02)


def records_of(node: NodeProc, agent: str, kind: str) -> list[dict[str, Any]]:
    return [r for r in node.records(agent) if r["type"] == kind]


class CuttableLink:
    """A TCP relay to ``127.0.0.1:port`` that can stop carrying bytes without closing anything,
    as a network that drops packets does: both ends still believe they are connected."""

    def __init__(self, port: int) -> None:
        self.target = port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self.listener.getsockname()[1])
        self.open = threading.Event()
        self.open.set()
        self._sockets: list[socket.socket] = [self.listener]
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def address(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.target))
            self._sockets += [client, upstream]
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._carry, args=(source, sink), daemon=True).start()

    def _carry(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                self.open.wait()  # cut: what was sent waits here, as in a dead network
                sink.sendall(data)
        except OSError:
            pass

    def cut(self) -> None:
        self.open.clear()

    def mend(self) -> None:
        self.open.set()

    def close(self) -> None:
        self.open.set()
        for sock in self._sockets:
            try:
                sock.close()
            except OSError:
                pass


@contextmanager
def node_pair(state_dir: Path) -> Iterator[tuple[Node, Node, Cluster, Cluster]]:
    """Two nodes in this process, clustered as ``one`` and ``two`` on one embedded nats-server
    (heartbeat 0.2 s, failure timeout 1 s): ``(first, second, one, two)``, all stopped after."""
    first, second = Node(workers=1), Node(workers=1)
    one = Cluster(first, "one", state_dir=state_dir, heartbeat_interval=0.2, failure_timeout=1.0).start()
    two = Cluster(second, "two", state_dir=state_dir, heartbeat_interval=0.2, failure_timeout=1.0).start()
    try:
        yield first, second, one, two
    finally:
        for node in (first, second):
            node.shutdown(1)
        two.stop()
        one.stop()
