"""Small process bodies the tests spawn."""

from __future__ import annotations

from typing import Any

from actors import Actor, Cancel, Error, errors
from actors.coprocess import ProcessContext


async def returns(proc: ProcessContext, value: Any = None) -> Any:
    """Exit normally with ``value`` at once."""
    return value


async def fails(proc: ProcessContext, message: str = "boom", kind: str = errors.INTERNAL) -> Any:
    """Exit with an error at once."""
    raise Error(kind, message)


async def waits(proc: ProcessContext) -> Any:
    """Wait for a message on topic "stop" (or "crash"), forever."""
    stop = proc.listen("stop")
    crash = proc.listen("crash")
    from actors import select

    index, value, _ok = await select(stop.case_receive(), crash.case_receive())
    if index == 1:
        raise Error(errors.INTERNAL, value or "crashed on request")
    return value


async def obeys_cancel(proc: ProcessContext, result: Any = "cancelled") -> Any:
    """Return ``result`` normally as soon as a CANCEL event arrives."""
    events = proc.events()
    while True:
        event, _ok = await events.receive()
        if isinstance(event, Cancel):
            return result


async def ignores_cancel(proc: ProcessContext) -> Any:
    """Read events and ignore them: only a deadline can stop it."""
    events = proc.events()
    while True:
        await events.receive()


class Waiter(Actor):
    """An actor that crashes on "crash", stops on "stop", forwards events to ``observer``."""

    def __init__(self, observer: Any = None, trap: bool = False) -> None:
        super().__init__()
        self.observer = observer
        self.trap = trap

    def on_start(self) -> None:
        self.trap_links = self.trap

    def on_receive(self, message: Any) -> Any:
        topic = getattr(message, "topic", None)
        if topic == "crash":
            raise RuntimeError(message.payload or "crash requested")
        if topic == "stop":
            self.exit(message.payload)
        if topic == "link":
            self.link(message.payload)
        if topic == "unlink":
            self.unlink(message.payload)
        return None

    def on_event(self, event: Any) -> None:
        if self.observer is not None:
            self.send(
                self.observer,
                "event",
                {
                    "kind": event.kind,
                    "pid": getattr(event, "pid", None),
                    "error": getattr(event, "error", None),
                },
            )


# -- workflows ----------------------------------------------------------------------------------


def workflow_events(app: Any, workflow_id: str, client_id: str = "app:temporal_client") -> list[str]:
    """The event types of a workflow's history, without their prefix (``"TIMER_STARTED"``, …)."""
    from temporalio.api.enums.v1 import EventType

    from temporal_bridge import TemporalRuntime

    runtime = next(started for started in app._started if isinstance(started, TemporalRuntime))
    client = runtime.clients[client_id]

    async def fetch() -> list[str]:
        history = await client.get_workflow_handle(workflow_id).fetch_history()
        return [EventType.Name(event.event_type).removeprefix("EVENT_TYPE_") for event in history.events]

    return runtime.loop.run(fetch(), timeout=30)


def waits_after_activities(app: Any, workflow_id: str, activities: int) -> bool:
    """True once ``activities`` activities of the workflow have completed and it has handled
    their results: its last workflow task is done, so it is blocked (in a receive or a select)."""
    events = workflow_events(app, workflow_id)
    return events.count("ACTIVITY_TASK_COMPLETED") == activities and events[-1] == "WORKFLOW_TASK_COMPLETED"
