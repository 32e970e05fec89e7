"""The Temporal kinds: ``temporal.client``, ``temporal.worker``, ``workflow.lua``.

Registered with the entry loader on import, so an app using them is
validated (file, line, entry) like every other app.  The ``function.lua``
and ``process.lua`` kinds (``actors``'s) are extended with their Temporal
meta, ``meta.temporal.activity.{worker, local}``, checked here.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any

from actors.entries import Entry, KindSpec, Registry, check_lifecycle, kind_spec, register_kind
from temporal_bridge.settings import client_problems, lifecycle_problems, worker_option_problems

__all__ = ["SEARCH_ATTRIBUTE_TYPES", "workflow_type_name"]

SEARCH_ATTRIBUTE_TYPES = ("Text", "Keyword", "Int", "Double", "Bool", "Datetime", "KeywordList")


def _check_client(entry: Entry, registry: Registry) -> list[str]:
    messages = check_lifecycle(entry, registry)
    messages.extend(client_problems(entry.data))
    messages.extend(lifecycle_problems(entry.data, "temporal.client", ()))
    address = entry.data.get("address")
    if address is not None and (not isinstance(address, str) or ":" not in address):
        messages.append("address must be host:port (leave it out to use the embedded dev server)")
    server = entry.data.get("server")
    if server is not None and server not in ("dev", "time_skipping"):
        messages.append("server must be dev (the embedded dev server) or time_skipping (tests)")
    if server == "time_skipping" and address:
        messages.append("server: time_skipping starts its own server; leave out address")
    namespace = entry.data.get("namespace")
    if namespace is not None and (not isinstance(namespace, str) or not namespace):
        messages.append("namespace must be a non-empty string")
    attributes: Any = entry.data.get("search_attributes")
    if attributes is not None:
        if not isinstance(attributes, dict):
            messages.append("search_attributes must map names to types")
        else:
            for name, kind in attributes.items():
                if kind not in SEARCH_ATTRIBUTE_TYPES:
                    messages.append(
                        f"search attribute {name!r}: type {kind!r} is not one of {', '.join(SEARCH_ATTRIBUTE_TYPES)}"
                    )
    pragmas = entry.data.get("sqlite_pragmas")
    if pragmas is not None:
        if address or server == "time_skipping":
            messages.append("sqlite_pragmas apply only to the embedded dev server (no address)")
        elif not isinstance(pragmas, list) or not all(
            isinstance(pragma, str) and re.fullmatch(r"[a-z_]+=[A-Za-z0-9_-]+", pragma) for pragma in pragmas
        ):
            messages.append('sqlite_pragmas must be a list of "name=value" strings, e.g. journal_mode=wal')
    tls = entry.data.get("tls")
    if tls is not None and not isinstance(tls, dict):
        messages.append("tls must be a mapping (enabled, ca_file, server_name, …)")
    auth = entry.data.get("auth")
    if auth is not None:
        if not isinstance(auth, dict):
            messages.append("auth must be a mapping (type, api_key, …)")
        elif auth.get("type", "none") not in ("none", "api_key", "mtls"):
            messages.append("auth.type must be none, api_key or mtls")
        elif auth.get("type") == "mtls":
            if not any(auth.get(name) for name in ("cert_file", "cert_pem")):
                messages.append("auth.type mtls needs the client certificate: cert_file or cert_pem")
            if not any(auth.get(name) for name in ("key_file", "key_pem", "key_pem_env")):
                messages.append("auth.type mtls needs the client key: key_file, key_pem or key_pem_env")
    return messages


def _check_worker(entry: Entry, registry: Registry) -> list[str]:
    messages = check_lifecycle(entry, registry)
    queue = entry.data.get("task_queue")
    if queue is not None and (not isinstance(queue, str) or not queue):
        messages.append("task_queue must be a non-empty string")
    messages.extend(worker_option_problems(entry.data.get("worker_options")))
    messages.extend(lifecycle_problems(entry.data, "temporal.worker", ("auto_start", "stop_timeout")))
    messages.extend(
        f"{key!r} is not a temporal.worker setting (client, task_queue, worker_options, lifecycle)"
        for key in entry.data
        if key not in ("client", "task_queue", "worker_options", "lifecycle")
    )
    return messages


def _check_workflow(entry: Entry, registry: Registry) -> list[str]:
    name = entry.meta_get("temporal.workflow.name")
    if name is not None and (not isinstance(name, str) or not name):
        return ["meta.temporal.workflow.name must be a non-empty string"]
    return []


def workflow_type_name(entry: Entry) -> str:
    """The Temporal workflow type of a ``workflow.lua`` entry: ``meta…name`` or the entry ID."""
    name = entry.meta_get("temporal.workflow.name")
    return name if isinstance(name, str) and name else entry.id


def _check_activity_meta(entry: Entry, registry: Registry) -> list[str]:
    """``meta.temporal.activity``: ``worker`` (a temporal.worker, checked as a reference) and ``local``."""
    activity = entry.meta_get("temporal.activity")
    if activity is None:
        return []
    if not isinstance(activity, dict):
        return ["meta.temporal.activity must be a mapping (worker, local)"]
    messages = [
        f"meta.temporal.activity.{key} is not a setting (worker, local)"
        for key in activity
        if key not in ("worker", "local")
    ]
    if "worker" not in activity:
        messages.append("meta.temporal.activity needs worker: the temporal.worker it is registered on")
    if "local" in activity and not isinstance(activity["local"], bool):
        messages.append("meta.temporal.activity.local must be true or false")
    return messages


def _with_activity_meta(kind: str) -> None:
    """Teach the loader the Temporal meta of a kind ``actors`` owns (``function.lua``, ``process.lua``)."""
    spec = kind_spec(kind)
    if spec is None or "meta.temporal.activity.worker" in spec.references:
        return
    own_check = spec.check

    def check(entry: Entry, registry: Registry) -> list[str]:
        return [*(own_check(entry, registry) if own_check else []), *_check_activity_meta(entry, registry)]

    register_kind(
        dataclasses.replace(
            spec,
            references={**spec.references, "meta.temporal.activity.worker": ("temporal.worker",)},
            check=check,
        )
    )


_with_activity_meta("function.lua")
_with_activity_meta("process.lua")

register_kind(KindSpec("temporal.client", check=_check_client, description="a connection to Temporal"))
register_kind(
    KindSpec(
        "temporal.worker",
        required=("client", "task_queue"),
        references={"client": ("temporal.client",)},
        check=_check_worker,
        description="polls a task queue; the host of workflow PIDs",
    )
)
register_kind(
    KindSpec(
        "workflow.lua",
        code=True,
        references={"meta.temporal.workflow.worker": ("temporal.worker",)},
        check=_check_workflow,
        description="a durable Lua workflow",
    )
)
