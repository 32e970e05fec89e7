"""Shared fixtures: a fresh node per test, shut down afterwards."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from actors import Node, Probe


@pytest.fixture
def node() -> Iterator[Node]:
    node = Node(workers=2)
    try:
        yield node
    finally:
        node.shutdown(timeout=0.5)


@pytest.fixture
def probe(node: Node) -> Iterator[Probe]:
    with Probe(node, trap_links=True) as probe:
        yield probe
