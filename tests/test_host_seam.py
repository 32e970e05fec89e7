"""The Host seam: the whole contract on ``Host``, nothing workflow-specific in the core.

A host written against :class:`actors.Host` alone (no process host, no
Temporal) gets spawns, links, monitors, waits and counts through the node;
the process core handles a linked peer's reported exit (``LINK_EXIT``) for any
host; a payload sent to a workflow is encoded once; and the layering the seam
exists for holds (no import circle in ``actors``, no package using an underscore
module or name of another, no Lua in the entry model, no pykka in the process core).
"""

from __future__ import annotations

import ast
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from temporalio.api.common.v1 import Payload

from actors import PID, Error, Host, Node, Probe, codec, errors
from actors.seam import ExitCallback, SpawnRequest
from actors.signals import Item, Signal
from temporal_bridge.converter import ENCODING, data_converter

ROOT = Path(__file__).resolve().parents[1]


class RemotePeer(Host):
    """A peer for PIDs ``{far@…}``: only what ``Host`` requires, the rest from the defaults.

    A link or monitor request is remembered; ``finish`` ends a process the way a
    remote host reports it: EXIT to monitors, LINK_EXIT (normal) or LINK_DOWN to links.
    """

    def __init__(self, node: Node) -> None:
        self.id = "far"
        self.node = node
        self.delivered: list[Item] = []
        self.monitors: dict[PID, set[PID]] = {}
        self.links: dict[PID, set[PID]] = {}
        self.callbacks: dict[PID, list[ExitCallback]] = {}
        self.ended: dict[PID, tuple[Any, Error | None]] = {}

    def deliver(self, pid: PID, item: Item) -> bool:
        self.delivered.append(item)
        if item[0] == Signal.MONITOR:
            self.monitors.setdefault(pid, set()).add(item[1])
        elif item[0] == Signal.LINK:
            self.links.setdefault(pid, set()).add(item[1])
        return True

    def is_alive(self, pid: PID) -> bool:
        return pid not in self.ended

    def watch(self, pid: PID, callback: ExitCallback) -> None:
        if pid in self.ended:
            callback(*self.ended[pid])
        else:
            self.callbacks.setdefault(pid, []).append(callback)

    def finish(self, pid: PID, value: Any = None, error: Error | None = None) -> None:
        self.ended[pid] = (value, error)
        at = time.time()
        for watcher in self.monitors.pop(pid, ()):
            self.node.deliver(watcher, (Signal.EXIT, pid, codec.encode(value), error, at))
        for peer in self.links.pop(pid, ()):
            if error is None:
                self.node.deliver(peer, (Signal.LINK_EXIT, pid, codec.encode(value), None, at))
            else:
                self.node.deliver(peer, (Signal.LINK_DOWN, pid, None, error, at))
        for callback in self.callbacks.pop(pid, ()):
            callback(value, error)


REMOTE = PID("host", "0x00001", "far")


@pytest.fixture
def peer(node: Node) -> RemotePeer:
    peer = RemotePeer(node)
    node.add_peer("far", peer)
    return peer


def test_a_host_written_against_the_seam_alone_gets_monitors_links_waits_and_counts(
    node: Node, probe: Probe, peer: RemotePeer
) -> None:
    before = node.process_count()
    probe.monitor(REMOTE)
    probe.link(REMOTE)
    node.send(REMOTE, "hello", {"n": 1})
    assert [item[0] for item in peer.delivered] == [Signal.MONITOR, Signal.LINK, Signal.MSG]
    assert codec.decode(peer.delivered[2][3][0]) == {"n": 1}
    assert not node.in_memory(REMOTE)  # the default: a remote host may wait on I/O
    assert node.process(REMOTE) is None  # nothing of it runs in this OS process
    assert node.process_count() == before

    waited: list[Any] = []
    waiter = threading.Thread(target=lambda: waited.append(node.wait(REMOTE, timeout=5)))
    waiter.start()
    deadline = time.monotonic() + 5
    while not peer.callbacks.get(REMOTE):
        assert time.monotonic() < deadline, "node.wait never watched the remote process"
        time.sleep(0.005)
    peer.finish(REMOTE, {"done": True})
    waiter.join(5)
    assert waited == [({"done": True}, None)]

    monitor_exit = probe.expect_exit(REMOTE)
    link_exit = probe.expect_exit(REMOTE)  # a linked peer that reports its normal end
    assert monitor_exit.value == link_exit.value == {"done": True}
    assert monitor_exit.error is None and link_exit.error is None
    probe.expect_nothing(within=0.05)
    with pytest.raises(Error) as refused:  # the default: a peer starts nothing
        peer.spawn(SpawnRequest("app:anything"))
    assert refused.value.kind() == errors.INVALID


def test_a_failed_linked_peer_gives_link_down_by_the_usual_rules(
    node: Node, probe: Probe, peer: RemotePeer
) -> None:
    probe.link(REMOTE)
    peer.finish(REMOTE, error=Error(errors.INTERNAL, "far away"))
    down = probe.expect_link_down(REMOTE)
    assert down.error is not None and down.error.message() == "far away"


def test_an_exit_notice_counts_only_for_a_monitor_whatever_the_pid(probe: Probe, peer: RemotePeer) -> None:
    """A PID with a node part is not special to the core: a link hears LINK_EXIT or
    LINK_DOWN, and an EXIT notice for a process it only links to is dropped."""
    probe.link(REMOTE)
    probe.node.deliver(probe.pid, (Signal.EXIT, REMOTE, None, None, time.time()))
    probe.expect_nothing(within=0.05)
    probe.node.deliver(probe.pid, (Signal.LINK_EXIT, REMOTE, codec.encode(3), None, time.time()))
    assert probe.expect_exit(REMOTE).value == 3


def test_a_payload_node_send_encoded_becomes_the_temporal_payload_as_it_is() -> None:
    """No second encoding: the converter takes the bytes node.send made.  A msgpack
    encoding dumps would never produce (1 as a uint8) shows they were not re-encoded."""
    packed = codec.Packed(b"\x92\xcc\x01\xa2ok")  # [1, "ok"], 1 written the long way
    payload = data_converter.payload_converter.to_payloads([packed])[0]
    assert payload.metadata["encoding"] == ENCODING.encode()
    assert payload.data == b"\x92\xcc\x01\xa2ok"
    assert data_converter.payload_converter.from_payloads([payload])[0] == [1, "ok"]
    sent = codec.encode({"pid": REMOTE, "items": [1, 2]})
    assert type(sent) is codec.Packed
    assert data_converter.payload_converter.to_payloads([sent])[0] == Payload(
        metadata={"encoding": ENCODING.encode()}, data=sent.data
    )


# -- layering ---------------------------------------------------------------------------------


def _imports(path: Path, modules: frozenset[str] = frozenset()) -> list[str]:
    """Every module ``path`` imports, at any level (type-only and lazy imports included).

    ``from package import name`` depends on the submodule when ``name`` is one of
    ``modules``, else on the package.
    """
    names = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                submodule = f"{node.module}.{alias.name}"
                names.append(submodule if submodule in modules else node.module)
    return names


def _module(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def test_no_import_circle_inside_actors() -> None:
    files = {_module(path): path for path in (ROOT / "actors").rglob("*.py")}
    modules = frozenset(files)
    graph = {
        name: {target for target in _imports(path, modules) if target in files and target != name}
        for name, path in files.items()
    }
    state: dict[str, int] = {}

    def visit(name: str, trail: list[str]) -> None:
        state[name] = 1
        for target in sorted(graph[name]):
            if state.get(target) == 1:
                cycle = [*trail[trail.index(target) :], target] if target in trail else [name, target]
                pytest.fail("import circle: " + " -> ".join(cycle))
            if target not in state:
                visit(target, [*trail, target])
        state[name] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])


PACKAGES = ("actors", "temporal_bridge", "supervision", "cluster", "wippy_compat", "actorflow")
"""The project's packages: each uses only the public modules and names of the others."""


def _private_uses(package: str, paths: list[Path] | None = None) -> list[str]:
    """Underscore modules, or underscore names, of the other packages that ``package``'s files
    (``paths``, by default all of them) import."""
    offenders = []
    for path in paths if paths is not None else sorted((ROOT / package).rglob("*.py")):
        where = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path.name
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                targets = [(alias.name, None) for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                targets = [(node.module, alias.name) for alias in node.names]
            else:
                continue
            for module, name in targets:
                parts = module.split(".")
                if parts[0] == package or parts[0] not in PACKAGES:
                    continue
                if any(part.startswith("_") for part in parts[1:]):
                    offenders.append(f"{where}: {module}")
                elif name is not None and name.startswith("_"):
                    offenders.append(f"{where}: {module}.{name}")
    return offenders


@pytest.mark.parametrize("package", PACKAGES)
def test_packages_use_only_public_modules_and_names_of_each_other(package: str) -> None:
    """No ``from actors._process import …``, no ``from actors.lua.stdlib import _helper``:
    what a package needs of another gets a public name there."""
    assert _private_uses(package) == []


def test_the_layering_check_sees_a_private_import(tmp_path: Path) -> None:
    """The check above on a file that breaks the rule in each way it can."""
    sample = tmp_path / "sample.py"
    sample.write_text(
        "import actors._process\n"
        "from actors.entries.loader import _make_entry\n"
        "from actorflow._lifecycle import Lifecycle\n"
        "from wippy_compat._context import AppResources\n"  # its own package: fine
        "from actors.entries import load_app\n"  # public: fine
    )
    assert _private_uses("wippy_compat", [sample]) == [
        "sample.py: actors._process",
        "sample.py: actors.entries.loader._make_entry",
        "sample.py: actorflow._lifecycle",
    ]


def test_the_entry_model_imports_no_lua() -> None:
    """Issue 11: the YAML entry model does not import the Lua layer.  Only the loader does
    (it checks Lua code, and hands libraries to Lua); importing the model, the import checks
    or the YAML reader, or a package that only describes kinds, loads no Lua at all."""
    entries = ROOT / "actors" / "entries"
    users = sorted(
        path.name
        for path in entries.glob("*.py")
        if any(name == "actors.lua" or name.startswith("actors.lua.") for name in _imports(path))
    )
    assert users == ["loader.py"]
    probe = (
        "import sys\n"
        "import actors.entries, actors.entries.model, actors.entries.imports, actors.entries.bounded_yaml\n"
        "import supervision\n"
        "print(sorted(m for m in sys.modules if m == 'lupa' or m.startswith(('actors.lua', 'lupa.'))))\n"
        "from actors.entries import load_app\n"
        "print('actors.lua' in sys.modules)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.split("\n")[:2] == ["[]", "True"]  # the loader brings Lua when asked for


def test_the_process_core_imports_no_pykka() -> None:
    core = ["_process", "_ops", "node", "seam", "signals", "names", "host", "kinds", "events", "codec"]
    for name in core:
        imported = _imports(ROOT / "actors" / f"{name}.py")  # "pykka", "pykka.messages", …
        assert not [module for module in imported if module.split(".")[0] == "pykka"], name
