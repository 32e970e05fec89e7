"""temporal_bridge: durable Lua workflows on Temporal behind the Host seam.

Importing the package registers the ``temporal.client``, ``temporal.worker``
and ``workflow.lua`` kinds and the Lua module ``temporal``; :func:`install` is
the actorflow extension that starts an app's clients and workers;
:func:`update` and :func:`query` send a workflow a Temporal update or query.
"""

from temporal_bridge import entries as _entries  # noqa: F401  (registers the kinds)
from temporal_bridge.converter import data_converter
from temporal_bridge.runtime import TemporalRuntime, install, workflow_runner
from temporal_bridge.server import DevServer, find_binary, time_skipping_environment
from temporal_bridge.updates import query, update

__all__ = [
    "DevServer",
    "TemporalRuntime",
    "data_converter",
    "find_binary",
    "install",
    "query",
    "time_skipping_environment",
    "update",
    "workflow_runner",
]
