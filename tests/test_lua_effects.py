"""One Lua world: every operation lives in LuaCore; the two drivers only give their effects."""

from __future__ import annotations

import inspect

import pytest

from actors.lua.core import LuaCore
from actors.lua.effects import Effects, ImmediateEffects, WorkflowEffects
from actors.lua.process import LuaProcess
from temporal_bridge.workflow import LuaWorkflow


def members(protocol: type) -> set[str]:
    names = {name for name in vars(protocol) if not name.startswith("_")}
    names |= set(getattr(protocol, "__annotations__", {}))
    for base in protocol.__mro__[1:]:
        if (
            base is not protocol
            and getattr(base, "_is_protocol", False)
            and base.__module__ == protocol.__module__
        ):
            names |= members(base)
    return names


@pytest.mark.parametrize(
    ("driver", "protocols"),
    [(LuaProcess, (Effects, ImmediateEffects)), (LuaWorkflow, (Effects, WorkflowEffects))],
)
def test_each_driver_gives_every_effect_and_defines_no_operation(
    driver: type, protocols: tuple[type, ...]
) -> None:
    provider = LuaWorkflow() if driver is LuaWorkflow else driver  # the workflow sets some in __init__
    for protocol in protocols:
        missing = sorted(name for name in members(protocol) if not hasattr(provider, name))
        assert missing == [], f"{driver.__name__} lacks {missing}"
    operations = [name for name, _ in inspect.getmembers(driver) if name.startswith("op_")]
    assert operations == []  # an operation is written once, in LuaCore


def test_the_34_operations_both_drivers_once_defined_are_written_once_in_luacore() -> None:
    once_per_driver = [
        "pid",
        "entry_id",
        "send",
        "spawn",
        "exec",
        "upgrade",
        "terminate",
        "cancel",
        "monitor",
        "unmonitor",
        "link",
        "unlink",
        "get_options",
        "set_options",
        "register",
        "lookup",
        "unregister",
        "now",
        "sleep",
        "after",
        "timer",
        "timer_stop",
        "timer_reset",
        "call",
        "call_async",
        "future_state",
        "future_result",
        "future_cancel",
        "ctx_get",
        "ctx_all",
        "random",
        "log",
    ]
    assert [name for name in once_per_driver if not hasattr(LuaCore, "op_" + name)] == []
    # uuid and random_bytes are the handlers of the uuid and crypto plug-in modules now
    from actors.lua import registered_module

    assert registered_module("uuid") is not None and registered_module("crypto") is not None
    assert len(once_per_driver) + 2 == 34
