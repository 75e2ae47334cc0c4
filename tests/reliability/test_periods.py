"""The same month a year later is another extract (issue #5: nothing lost).

A monthly period reads ``M03`` in file names and in the journal, without a year (PROTOCOL.md rule 7).
"Already sent" must mean the same month of the same year: March 2025 is not March 2024.
"""

from __future__ import annotations

from datetime import datetime

from .conftest import run_receive, run_send


def test_march_next_year_is_sent_and_march_this_year_only_once(make_world):
    world = make_world(rows=5)
    first, _ = run_send(world.sender, when=datetime(2024, 4, 2, 3, 0))
    again, _ = run_send(world.sender, when=datetime(2024, 4, 20, 3, 0))  # the same March: not again
    year_later, _ = run_send(world.sender, when=datetime(2025, 4, 2, 3, 0))

    assert [t.period for t in first.transfers] == ["M03"] and first.ok
    assert [t.id for t in again.transfers] == [t.id for t in first.transfers]
    [next_march] = [t for t in year_later.transfers if t.id != first.transfers[0].id]
    assert next_march.period == "M03" and next_march.state == "delivered"
    assert next_march.file_name.endswith("_M03_20250402030000.csv")
    world.platform.wait_idle()
    run_receive(world.lis)
    world.assert_all_once(2)


def test_the_covered_month_takes_the_year_from_when_the_extract_was_made():
    from sf1630.core.steps import covered_period

    assert covered_period("M03", datetime(2025, 4, 2)) == "2025-M03"
    assert covered_period("M03", datetime(2025, 1, 15)) == "2024-M03"  # a late resend of last March
    assert covered_period("M12", datetime(2025, 1, 2)) == "2024-M12"
    assert covered_period("2019", datetime(2025, 1, 2)) == "2019"  # other forms as written
