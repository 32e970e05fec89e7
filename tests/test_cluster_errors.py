"""Bad input to a cluster gets a typed error, and nothing is sent (two nodes in this process)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from actors import Node, Probe, errors
from cluster import Cluster

from .cluster_support import node_pair


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[tuple[Node, Node, Cluster, Cluster]]:
    with node_pair(tmp_path / "nats") as nodes:
        yield nodes


@pytest.mark.parametrize(
    ("options", "fragment"),
    [
        ({"name": "bad name"}, "node name"),
        ({"name": "local"}, "node name"),
        ({"name": "n", "cluster": "a.b"}, "cluster name"),
        ({"name": "n", "failure_timeout": 0.5}, "failure_timeout"),
        ({"name": "n", "state_dir": None}, "NATS address or a state_dir"),
    ],
)
def test_bad_settings_are_invalid(tmp_path: Path, options: dict, fragment: str) -> None:
    settings = {"state_dir": tmp_path, **options}
    name = settings.pop("name")
    with pytest.raises(errors.Error) as bad:
        Cluster(Node(default_host=""), name, **settings)
    assert bad.value.kind() == errors.INVALID and fragment in bad.value.message()


def test_a_node_with_processes_cannot_join(tmp_path: Path) -> None:
    node = Node(workers=1)
    try:
        with Probe(node), pytest.raises(errors.Error) as late:
            Cluster(node, "late", state_dir=tmp_path / "nats").start()
        assert late.value.kind() == errors.INVALID
    finally:
        node.shutdown(1)


def test_what_cannot_cross_is_refused_before_anything_is_sent(
    pair: tuple[Node, Node, Cluster, Cluster],
) -> None:
    first, second, one, _two = pair
    with Probe(second) as receiver, Probe(first) as sender:
        with pytest.raises(errors.Error) as big:
            first.send(receiver.pid, "big", "x" * (2 * 1024 * 1024))
        assert big.value.kind() == errors.LIMIT_EXCEEDED
        with pytest.raises(errors.Error) as python_class:
            sender.spawn(Probe, host="two@app:processes")
        assert python_class.value.kind() == errors.INVALID
        with pytest.raises(errors.Error) as scope:
            one.register("x", sender.pid, scope="quorum")
        assert scope.value.kind() == errors.INVALID
        with pytest.raises(errors.Error) as nobody:
            one.register("x", "{two@app:processes|0xfffff}")
        assert nobody.value.kind() == errors.NOT_FOUND
        assert one.whereis("x") is None
        first.send(receiver.pid, "small", 1)
        assert receiver.receive(timeout=5).topic == "small"  # the refused one never arrived


def test_a_full_outbox_refuses_more(tmp_path: Path) -> None:
    first, second = Node(workers=1), Node(workers=1)
    one = Cluster(first, "one", state_dir=tmp_path / "nats", max_outbox=10).start()
    two = Cluster(second, "two", state_dir=tmp_path / "nats").start()
    try:
        with Probe(second) as receiver:
            one.members["two"].outbox.extend([[receiver.pid, 0, None, "filler", [1]]] * 10)
            with pytest.raises(errors.Error) as full:
                first.send(receiver.pid, "more", 1)
            assert full.value.kind() == errors.LIMIT_EXCEEDED and "max_outbox" in full.value.message()
    finally:
        first.shutdown(1)
        second.shutdown(1)
        two.stop()
        one.stop()
