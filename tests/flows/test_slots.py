"""The bound on municipalities at work at once (``concurrency``)."""

from __future__ import annotations

import asyncio

from sf1630.agent.flow import Slots


def test_at_most_limit_municipalities_work_at_once_and_jobs_of_one_share_its_slot():
    slots, busy, peak, together = Slots(2), {}, [0], [0]

    async def job(municipality: str) -> None:
        async with slots.slot(municipality):
            busy[municipality] = busy.get(municipality, 0) + 1
            peak[0] = max(peak[0], len(busy))
            together[0] = max(together[0], busy[municipality])
            await asyncio.sleep(0.01)
            busy[municipality] -= 1
            if not busy[municipality]:
                del busy[municipality]

    async def main() -> None:
        await asyncio.gather(*(job(f"m{i % 5}") for i in range(25)))

    asyncio.run(main())
    assert peak[0] == 2  # never more than two municipalities
    assert together[0] > 1  # several jobs of one municipality ran side by side


def test_a_cancelled_waiter_neither_keeps_nor_loses_a_slot():
    slots, ran = Slots(1), []

    async def job(municipality: str, hold: float) -> None:
        async with slots.slot(municipality):
            ran.append(municipality)
            await asyncio.sleep(hold)

    async def main() -> None:
        first = asyncio.create_task(job("a", 0.05))
        await asyncio.sleep(0)
        waiting = asyncio.create_task(job("b", 0.0))  # waits for a's slot, then is cancelled
        await asyncio.sleep(0.01)
        waiting.cancel()
        await asyncio.gather(first, return_exceptions=True)
        admitted = asyncio.create_task(job("c", 0.0))
        let_in_then_cancelled = asyncio.create_task(job("d", 0.0))
        await asyncio.sleep(0)
        await asyncio.wait_for(admitted, 1.0)
        let_in_then_cancelled.cancel()
        await asyncio.gather(let_in_then_cancelled, return_exceptions=True)
        await asyncio.wait_for(job("e", 0.0), 1.0)  # a slot is free again

    asyncio.run(main())
    assert ran[:2] == ["a", "c"] and ran[-1] == "e" and "b" not in ran
