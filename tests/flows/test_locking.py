"""Rule 2: a trigger refused because its name is still being processed is retried, not failed."""

from __future__ import annotations

import asyncio

from sf1630.documents.trigger import FILE_TYPE, FileDescriptor, Trigger, build_trigger
from sf1630.core.remote import Remote

from .conftest import IKAST, KY

DATA = "KY_LIS_11111111_M03_20180402134858.csv"


def test_a_locked_trigger_name_is_retried_until_processing_ends(make_platform, make_agent_config):
    from sf1630.config.load import load_config
    from sf1630.agent.runtime import build_runtime

    platform = make_platform(sources=(KY,), municipalities=(IKAST,))
    sender = make_agent_config(platform, "source-vendor", receive=False)
    trigger = build_trigger(Trigger(FileDescriptor(DATA, 3, KY.user, (IKAST.lis_user,)), file_type=FILE_TYPE))

    async def go() -> None:
        rt = build_runtime(load_config(sender))
        remote = Remote(rt.pool, asyncio.Event(), base=0.05, cap=0.1, attempts=50)
        link = rt.links["KY"]
        platform.loop.call_soon_threadsafe(platform.platform.hold)  # the first route stays in processing
        await remote.run(link, lambda s: s.write_bytes(f"OUT/{DATA}", b"abc"))
        await remote.run(link, lambda s: s.write_bytes(f"OUT/{DATA}.trigger", trigger))
        await asyncio.sleep(0.2)
        second = asyncio.create_task(remote.run(link, lambda s: s.write_bytes(f"OUT/{DATA}.trigger", trigger),
                                                refused_too=True))
        await asyncio.sleep(0.5)
        assert not second.done()  # refused, and retrying
        platform.loop.call_soon_threadsafe(platform.platform.release)
        await asyncio.wait_for(second, 10)
        assert second.done() and second.exception() is None  # accepted once processing ended
        await rt.aclose()

    asyncio.run(go())
    platform.wait_idle()
    assert platform.files(IKAST.lis_user, "IN") == [DATA, f"{DATA}.metadata"]
