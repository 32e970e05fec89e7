"""A tour of links, monitors and trap_links, printed step by step.

Run it with ``.venv/bin/python examples/links_and_monitors.py``.
"""

from __future__ import annotations

from typing import Any

from actors import Actor, Exit, LinkDown, Node, Probe, errors


class Worker(Actor):
    """Does work; crashes when told to."""

    def on_receive(self, message: Any) -> None:
        if getattr(message, "topic", None) == "crash":
            raise RuntimeError(message.payload)


class Guardian(Actor):
    """Traps links: a crashing worker becomes an event, not its own death."""

    def __init__(self, report: Any) -> None:
        super().__init__()
        self.report = report

    def on_start(self) -> None:
        self.trap_links = True
        self.worker = self.spawn(Worker, link=True)
        self.send(self.report, "worker", self.worker)

    def on_event(self, event: Exit | LinkDown | Any) -> None:
        if isinstance(event, LinkDown):
            self.send(self.report, "saw", f"LINK_DOWN from {event.pid}: {event.error.message()}")
        else:
            super().on_event(event)  # a Cancel stops the actor gracefully


class Bystander(Actor):
    """Does not trap links: it dies with whatever it is linked to."""


def step(number: int, text: str) -> None:
    print(f"\n{number}. {text}")


def show(label: str, value: Any) -> None:
    print(f"   {label:<18} {value}")


def main() -> None:
    with Node(workers=2) as node, Probe(node, trap_links=True) as me:
        show("this node", node)
        show("I am", me.pid)

        step(1, "A monitor sees every exit; a normal exit is silent for links.")
        worker = me.spawn(Worker, link=True, monitor=True)
        show("spawned", worker)
        node.actor_ref(worker).stop()
        event = me.expect_exit(worker)
        show("EXIT", f"value={event.value!r} error={event.error}")
        me.expect_nothing(within=0.1)
        show("LINK_DOWN", "none (normal exit)")

        step(2, "A crash reaches monitors as EXIT and trapping links as LINK_DOWN, in that order.")
        worker = me.spawn(Worker, link=True, monitor=True)
        node.send(worker, "crash", "disk on fire")
        first, second = me.receive(), me.receive()
        show(first.kind, f"from {first.pid}: {first.error.kind()} {first.error.message()!r}")
        show(second.kind, f"from {second.pid}: {second.error.message()!r}")

        step(3, "Without trap_links, a linked process dies too; its EXIT names the cause.")
        worker = me.spawn(Worker)
        bystander = me.spawn(Bystander, monitor=True)
        node.actor_ref(bystander).proxy().link(worker).get()
        node.send(worker, "crash", "out of memory")
        event = me.expect_exit(bystander)
        cause = (event.error.details() or {}).get("cause", {})
        show("bystander EXIT", f"{event.error.message()!r}, cause: {cause.get('message')!r}")

        step(4, "With trap_links, a guardian survives its worker's crash and is told about it.")
        guardian = me.spawn(Guardian, me.pid, monitor=True)
        worker = me.expect_message("worker").payload
        node.send(worker, "crash", "bad input")
        show("guardian says", me.expect_message("saw").payload)
        show("guardian alive?", node.is_alive(guardian))

        step(5, "Monitoring a dead PID fails at once; names are released on exit.")
        node.register("guardian", guardian)
        show("lookup", f"guardian -> {node.lookup('guardian')}")
        me.cancel("guardian", deadline=1.0, reason="demo over")
        show("guardian EXIT", me.expect_exit(guardian).error or "normal (it obeyed the cancel)")
        show("lookup", node.whereis("guardian"))
        try:
            me.monitor(guardian)
        except errors.Error as err:
            show("monitor dead PID", f"{err.kind()}: {err.message()}")

        print(f"\nlive processes left: {node.process_count() - 1} (besides me)")


if __name__ == "__main__":
    main()
