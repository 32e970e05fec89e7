"""The native Python side of bench/workflows.py: the same work, written for temporalio."""

from __future__ import annotations

from datetime import timedelta

from temporalio import activity, workflow


@activity.defn(name="native_inc")
async def native_inc(x: int) -> int:
    return x + 1


@workflow.defn(name="NativeTrivial")
class NativeTrivial:
    @workflow.run
    async def run(self, x: int) -> int:
        return await workflow.execute_activity(native_inc, x, start_to_close_timeout=timedelta(minutes=10))


@workflow.defn(name="NativePonger")
class NativePonger:
    def __init__(self) -> None:
        self.pings: list[tuple[str, int]] = []
        self.stopped = False

    @workflow.signal
    def ping(self, sender: str, value: int) -> None:
        self.pings.append((sender, value))

    @workflow.signal
    def stop(self) -> None:
        self.stopped = True

    @workflow.run
    async def run(self) -> str:
        while True:
            await workflow.wait_condition(lambda: bool(self.pings) or self.stopped)
            if self.stopped:
                return "stopped"
            sender, value = self.pings.pop(0)
            await workflow.get_external_workflow_handle(sender).signal("pong", value)


@workflow.defn(name="NativePinger")
class NativePinger:
    def __init__(self) -> None:
        self.pongs = 0

    @workflow.signal
    def pong(self, value: int) -> None:
        self.pongs += 1

    @workflow.run
    async def run(self, target: str, rounds: int) -> int:
        handle = workflow.get_external_workflow_handle(target)
        for index in range(1, rounds + 1):
            await handle.signal("ping", args=[workflow.info().workflow_id, index])
            await workflow.wait_condition(lambda index=index: self.pongs >= index)
        await handle.signal("stop")
        return rounds
