"""Every entry kind Wippy defines, so an unknown kind gets a message that helps.

A Wippy app may declare kinds actorflow does not implement: the loader then
says so in those words (instead of "unknown kind"), and for a kind that is
neither actorflow's nor Wippy's it suggests the nearest one when the name
looks like a typo.  The list is Wippy's documentation, ``en/guides/entry-kinds.md``
(and ``en/lua/entries.md``); ``docs/coming-from-wippy.md`` says which are
supported.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

__all__ = ["WIPPY_KINDS", "unknown_kind_message"]

WIPPY_KINDS = frozenset(
    {
        # Lua runtime
        "function.lua",
        "process.lua",
        "workflow.lua",
        "library.lua",
        "module.lua",
        "function.lua.bc",
        "library.lua.bc",
        "process.lua.bc",
        "workflow.lua.bc",
        # HTTP
        "http.service",
        "http.router",
        "http.endpoint",
        "http.static",
        # databases
        "db.sql.sqlite",
        "db.sql.postgres",
        "db.sql.mysql",
        # key-value stores
        "store.memory",
        "store.sql",
        "store.kv.raft",
        "store.kv.crdt",
        # queues
        "queue.driver.memory",
        "queue.driver.amqp",
        "queue.driver.sqs",
        "queue.queue",
        "queue.consumer",
        # processes
        "process.host",
        "process.service",
        "terminal.host",
        # Temporal
        "temporal.client",
        "temporal.worker",
        # cloud storage, file systems
        "config.aws",
        "cloudstorage.s3",
        "fs.directory",
        "fs.embed",
        # environment
        "env.storage.memory",
        "env.storage.file",
        "env.storage.os",
        "env.storage.static",
        "env.storage.router",
        "env.variable",
        # templates
        "template.jet",
        "template.set",
        # security
        "security.policy",
        "security.policy.expr",
        "security.token_store",
        # contracts
        "contract.definition",
        "contract.binding",
        # execution
        "exec.native",
        "exec.docker",
        # WASM
        "function.wat",
        "function.wasm",
        "process.wasm",
        # networks
        "network",
        "network.socks5",
        "network.i2p",
        "network.tailscale",
        # registry primitives
        "registry.entry",
        "ns.definition",
        "ns.requirement",
        "ns.dependency",
    }
)
"""The kinds of Wippy's entry-kind reference."""


def unknown_kind_message(kind: str, known: Iterable[str]) -> str:
    """Why ``kind`` cannot be loaded: a Wippy kind actorflow lacks, or a typo (with the nearest kind)."""
    known = sorted(known)
    if kind in WIPPY_KINDS:
        return (
            f"kind {kind!r} is a Wippy kind that actorflow does not implement "
            "(docs/coming-from-wippy.md lists what is supported)"
        )
    nearest = difflib.get_close_matches(kind, sorted({*known, *WIPPY_KINDS}), n=1, cutoff=0.75)
    if nearest:
        suggestion = nearest[0]
        note = "" if suggestion in known else ", a Wippy kind actorflow does not implement"
        return f"unknown kind {kind!r}: did you mean {suggestion!r}{note}?"
    return f"unknown kind {kind!r} (known: {', '.join(known)})"
