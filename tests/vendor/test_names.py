"""Data file names are never used twice (issue #20): two sends of one stream within the same second,
even at the same time, get two names, and both arrive at the LIS."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import datetime

from .conftest import IKAST, receive


def test_two_sends_of_one_stream_within_a_second_get_two_names_and_both_arrive(world):
    from sf1630.agent.flow import make_sender
    from sf1630.agent.runtime import build_runtime
    from sf1630.config import load_config

    sender_cfg, lis_cfg = world.sender(), world.lis()
    when = datetime(2024, 4, 2, 13, 48, 58)

    async def go():
        rt = build_runtime(load_config(sender_cfg))
        try:
            [spec] = rt.send_specs()
            sender = make_sender(rt, asyncio.Event())
            first = await sender.send(spec, when=when)
            # a resend and a retry in the same second, at the same time
            both = await asyncio.gather(*(sender.send(spec, when=when, resend_reason=why, resend_by="test")
                                          for why in ("LIS lost the load", "retry")))
            return [first, *both]
        finally:
            await rt.aclose()

    sends = asyncio.run(go())

    names = [t.file_name for t in sends]
    assert len(set(names)) == 3, names
    assert names[0] == f"KY_LIS_{IKAST.cvr}_M03_20240402134858.csv"
    assert sorted(names[1:]) == [f"KY_LIS_{IKAST.cvr}_M03_20240402134859.csv",
                                 f"KY_LIS_{IKAST.cvr}_M03_20240402134900.csv"]  # advanced, never reused
    assert all(t.state == "delivered" for t in sends), [(t.file_name, t.state, t.error) for t in sends]

    world.wait_idle()
    receive(lis_cfg)
    with sqlite3.connect(lis_cfg.parent / "lis.sqlite3") as db:
        loaded = sorted(name for (name,) in db.execute("SELECT file_name FROM deliveries"))
    assert loaded == sorted(names)
