"""The test probe: blocking assertions with readable failures."""

from __future__ import annotations

import time

import pytest

from actors import Node, Probe, errors
from actors.testing import ProbeExited

from .helpers import fails, waits


def test_failure_message_lists_what_did_arrive(node: Node) -> None:
    with Probe(node) as probe:
        node.send(probe.pid, "unexpected", {"x": 1})
        with pytest.raises(AssertionError) as info:
            probe.expect_message("wanted", timeout=0.1)
        text = str(info.value)
        assert "topic='wanted'" in text
        assert "unexpected" in text and "{'x': 1}" in text


def test_expect_nothing_fails_when_something_arrives(node: Node) -> None:
    with Probe(node) as probe:
        node.send(probe.pid, "noise")
        with pytest.raises(AssertionError, match="noise"):
            probe.expect_nothing(within=0.05)


def test_expect_nothing_waits_the_whole_window(node: Node) -> None:
    with Probe(node) as probe:
        started = time.monotonic()
        probe.expect_nothing(within=0.15)
        assert time.monotonic() - started >= 0.15


def test_selective_receive_keeps_the_rest(node: Node) -> None:
    with Probe(node) as probe:
        for topic in ("a", "b", "c"):
            node.send(probe.pid, topic)
        assert probe.expect_message("c").topic == "c"
        assert [item.topic for item in probe.pending] == ["a", "b"]


def test_payload_and_sender_matching(node: Node) -> None:
    with Probe(node) as probe, Probe(node) as other:
        other.send(probe.pid, "n", 1)
        node.send(probe.pid, "n", 2)
        assert probe.expect_message("n", 2).sender is None
        assert probe.expect_message("n", sender=other.pid).payload == 1


def test_error_kind_is_checked(probe: Probe) -> None:
    pid = probe.spawn(fails, "nope", errors.TIMEOUT, monitor=True)
    with pytest.raises(AssertionError, match="expected error kind 'NOT_FOUND', got 'TIMEOUT'"):
        probe.expect_exit(pid, error_kind=errors.NOT_FOUND)


def test_a_non_trapping_probe_dies_with_its_link(node: Node) -> None:
    probe = Probe(node)
    pid = probe.spawn(waits, link=True)
    node.send(pid, "crash", "down you go")
    value, error = probe.wait_exit()
    assert value is None
    assert error is not None and error.message() == "linked process failed"
    with pytest.raises(ProbeExited):
        probe.receive(timeout=0.05)
    assert not probe.alive


def test_trap_links_test_in_a_few_lines(node: Node) -> None:
    with Probe(node, trap_links=True) as probe:
        worker = probe.spawn(waits, link=True)
        node.send(worker, "crash", "boom")
        down = probe.expect_link_down(worker)
        assert down.error is not None and down.error.message() == "boom"


def test_probe_close_tells_its_watchers(node: Node) -> None:
    with Probe(node) as watcher:
        watched = Probe(node)
        watcher.monitor(watched.pid)
        watched.close()
        assert watcher.expect_exit(watched.pid).error is None
