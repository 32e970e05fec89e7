"""A cluster node as its own OS process, driven by a test over stdin/stdout.

    python tests/cluster_node.py NAME STATE_DIR [HEARTBEAT FAILURE_TIMEOUT [APP_DIR]]

Prints ``{"ready": NAME, ...}`` once it has joined, then answers one JSON line
per command line: ``{"id": n, "cmd": "...", ...}`` gets ``{"id": n, "ok":
true, "value": ...}`` or ``{"id": n, "ok": false, "error": {"kind", "message"}}``.

*Agents* are coroutine processes that do what the test asks in their own
context (``do``: send, link, monitor, register a name, take a lock, join a
group…) and record everything they receive (``records``), so a test observes
real processes on real nodes.  Other nodes may spawn ``test:agent``,
``test:sum`` and ``test:crash`` on this node's host.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from actors import Node, errors, select
from actors.events import Cancel, Exit, LinkDown, Message
from cluster import Cluster

RECORDS: dict[str, list[dict[str, Any]]] = {}
RESULTS: dict[int, Any] = {}
RESULTS_READY = threading.Condition()
OUT = threading.Lock()
CLUSTER: Cluster | None = None


def emit(line: dict[str, Any]) -> None:
    with OUT:
        sys.stdout.write(json.dumps(line, default=str) + "\n")
        sys.stdout.flush()


def error_json(err: BaseException) -> dict[str, Any]:
    if isinstance(err, errors.Error):
        return {"kind": err.kind(), "message": err.message(), "details": err.details()}
    return {"kind": "PYTHON", "message": f"{type(err).__name__}: {err}"}


def record_of(item: Any) -> dict[str, Any]:
    now = time.time()
    if isinstance(item, Message):
        return {"type": "msg", "topic": item.topic, "from": item.sender, "payload": item.payload, "t": now}
    if isinstance(item, (Exit, LinkDown)):
        error = item.error
        return {
            "type": "exit" if isinstance(item, Exit) else "link_down",
            "from": str(item.pid),
            "value": item.value,
            "error": error_json(error) if error is not None else None,
            "at": item.at,
            "t": now,
        }
    if isinstance(item, Cancel):
        sender = str(item.sender) if item.sender is not None else None
        return {"type": "cancel", "reason": item.reason, "from": sender, "deadline": item.deadline, "t": now}
    return {"type": "other", "repr": repr(item), "t": now}


async def agent(proc: Any, trap: bool = False) -> None:
    """Run the test's orders (topic ``ctl``), record everything else."""
    proc.trap_links = trap
    records = RECORDS.setdefault(str(proc.pid), [])
    ctl = proc.listen("ctl")
    inbox = proc.inbox()
    events = proc.events()
    while True:
        index, value, ok = await select(ctl.case_receive(), inbox.case_receive(), events.case_receive())
        if not ok:
            return
        if index == 0:
            token, op, args = value
            try:
                result: Any = {"ok": True, "value": perform(proc, op, args)}
            except BaseException as exc:
                result = {"ok": False, "error": error_json(exc)}
            with RESULTS_READY:
                RESULTS[token] = result
                RESULTS_READY.notify_all()
            if op == "exit":
                return
            if op == "fail":
                raise errors.Error(errors.INTERNAL, "agent failed on request")
        else:
            records.append(record_of(value))
            if isinstance(value, Cancel) and value.reason == "scheduler shutdown":
                return  # the node stops: end at once rather than wait to be terminated


def perform(proc: Any, op: str, args: dict[str, Any]) -> Any:
    cluster = CLUSTER
    assert cluster is not None
    if op == "send":
        proc.send(args["dest"], args["topic"], *args.get("payloads", []))
        return True
    if op == "send_many":
        for index in range(args["count"]):
            proc.send(args["dest"], args["topic"], index)
        return True
    if op in ("link", "unlink", "monitor", "unmonitor", "terminate"):
        getattr(proc, op)(args["dest"])
        return True
    if op == "cancel":
        proc.cancel(args["dest"], deadline=args.get("deadline"), reason=args.get("reason", ""))
        return True
    if op == "spawn":
        options = {key: args[key] for key in ("host", "link", "monitor", "name") if key in args}
        return str(proc.spawn(args["target"], *args.get("args", []), **options))
    if op == "register":
        return cluster.register(args["name"], scope=args.get("scope", "consistent"))
    if op == "unregister":
        return cluster.unregister(args["name"], scope=args.get("scope", "consistent"))
    if op == "lock":
        return cluster.locks.acquire(args["name"])
    if op == "unlock":
        return cluster.locks.release(args["name"])
    if op == "join":
        return cluster.groups.join(args["group"])
    if op == "leave":
        return cluster.groups.leave(args["group"])
    if op == "watch_group":
        return [str(p) for p in cluster.groups.monitor(args["group"], topic="pg")]
    if op == "broadcast":
        method = cluster.groups.broadcast_local if args.get("local") else cluster.groups.broadcast
        return method(args["group"], args["topic"], *args.get("payloads", []))
    if op in ("exit", "fail"):
        return True
    raise errors.Error(errors.INVALID, f"unknown agent op {op!r}")


async def crash(proc: Any) -> None:
    """Crash on the first message."""
    await proc.inbox().receive()
    raise errors.Error(errors.INTERNAL, "crashed on request")


async def add(proc: Any, *numbers: int) -> int:
    return sum(numbers)


_tokens = iter(range(1, 1 << 62))


def handle(node: Node, cluster: Cluster, command: dict[str, Any]) -> Any:
    cmd = command["cmd"]
    if cmd == "agent":
        return str(node.spawn(agent, command.get("trap", False), name=command.get("name")))
    if cmd == "do":
        token = next(_tokens)
        node.send(command["agent"], "ctl", [token, command["op"], command.get("args", {})])
        with RESULTS_READY:
            if not RESULTS_READY.wait_for(lambda: token in RESULTS, timeout=command.get("timeout", 20)):
                raise errors.Error(errors.TIMEOUT, f"agent did not perform {command['op']}")
            result = RESULTS.pop(token)
        if result["ok"]:
            return result["value"]
        raise errors.Error(result["error"]["kind"], result["error"]["message"])
    if cmd == "records":
        return list(RECORDS.get(command["agent"], []))
    if cmd == "alive":
        return node.is_alive(command["pid"])
    if cmd == "whereis":
        pid = cluster.whereis(command["name"])
        return str(pid) if pid is not None else None
    if cmd == "members":
        return [str(p) for p in cluster.groups.members(command["group"])]
    if cmd == "local_members":
        return [str(p) for p in cluster.groups.local_members(command["group"])]
    if cmd == "nodes":
        return cluster.member_names()
    if cmd == "fenced":  # why this node left the cluster on its own (it was cut off), or None
        return cluster.fenced.message() if cluster.fenced is not None else None
    if cmd == "lock_holder":
        holder = cluster.locks.holder(command["name"])
        return str(holder) if holder is not None else None
    if cmd == "send":
        node.send(command["dest"], command["topic"], *command.get("payloads", []))
        return True
    if cmd == "exec":
        return node.exec(command["target"], *command.get("args", []), host=command["host"], timeout=10)
    if cmd == "wait":
        value, error = node.wait(command["pid"], timeout=command.get("timeout", 10))
        return {"value": value, "error": error_json(error) if error is not None else None}
    raise errors.Error(errors.INVALID, f"unknown command {cmd!r}")


def main() -> None:
    global CLUSTER
    name, state_dir = sys.argv[1], sys.argv[2]
    heartbeat = float(sys.argv[3]) if len(sys.argv) > 3 else 0.25
    failure_timeout = float(sys.argv[4]) if len(sys.argv) > 4 else 2.0
    app = None
    if len(sys.argv) > 5:  # an app (its Temporal client and worker): the node is the app's
        from actorflow.app import App

        app = App(
            sys.argv[5], state_dir=Path(state_dir).parent / f"app-{name}", progress=lambda message: None
        )
        node = app.start().node
        assert node is not None
    else:
        node = Node(workers=2)
    address = os.environ.get("CLUSTER_NODE_ADDRESS")  # a NATS server by address, not the embedded one
    cluster = Cluster(
        node,
        name,
        address=address,
        state_dir=None if address else state_dir,
        heartbeat_interval=heartbeat,
        failure_timeout=failure_timeout,
    ).start()
    CLUSTER = cluster
    cluster.register_target("test:agent", agent)
    cluster.register_target("test:crash", crash)
    cluster.register_target("test:sum", add)
    emit({"ready": name, "incarnation": cluster.incarnation, "nodes": cluster.member_names()})
    for line in sys.stdin:
        if not line.strip():
            continue
        command = json.loads(line)
        if command["cmd"] == "stop":
            break
        try:
            emit({"id": command["id"], "ok": True, "value": handle(node, cluster, command)})
        except BaseException as exc:
            emit({"id": command["id"], "ok": False, "error": error_json(exc)})
    if app is not None:
        app.stop(5)
    else:
        node.shutdown(5)
    cluster.stop()
    emit({"id": -1, "stopped": name})


if __name__ == "__main__":
    main()
