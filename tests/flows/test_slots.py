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
