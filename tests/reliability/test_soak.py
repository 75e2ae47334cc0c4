"""The soak's short form (issue #5): 200 deliveries through random faults and kills, then the totals.

The long form and its figures: docs/RELIABILITY.md (``python -m tests.reliability.soak``).
"""

from __future__ import annotations

import pytest

from .soak import SoakConfig, report, run_soak


@pytest.mark.slow
def test_short_soak_delivers_everything_once_through_faults_and_kills(tmp_path):
    config = SoakConfig(tmp_path, deliveries=200, municipalities=20, rows=20, fault_every=20,
                        sender_kills=2, lis_kills=2, platform_kills=1, seed=5)

    result = run_soak(config)

    print("\n".join(report(result)))
    assert result.totals.problems == [], "\n".join(result.totals.problems[:40])
    assert (result.totals.sent, result.totals.loaded) == (200, 200)
    assert result.totals.rows == 200 * 20 and result.totals.duplicated_rows == 0
    assert sum(v for k, v in result.faults.items() if k != "refused") >= 50  # the faults did happen
    assert len(result.kills) == 5
