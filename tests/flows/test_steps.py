"""The pure decisions of sender and receiver: what comes next, after a crash and while waiting."""

from __future__ import annotations

import pytest

from sf1630.core import steps
from sf1630.core.steps import ReceiveStep, SendStep


def resume(state, local_ok=True, remote_size=None, expected_size=10, trigger=False, receipt=False):
    return steps.resume_send_step(state, local_ok=local_ok, remote_size=remote_size, expected_size=expected_size,
                                  trigger_present=trigger, receipt_present=receipt)


def test_an_uninterrupted_send_goes_extract_data_trigger_receipt():
    order, state = [], steps.PLANNED
    for nxt in (steps.EXTRACTED, steps.DATA_UPLOADED, steps.TRIGGER_UPLOADED, steps.DELIVERED):
        order.append(steps.next_send_step(state))
        state = nxt
    assert order == [SendStep.EXTRACT, SendStep.UPLOAD_DATA, SendStep.UPLOAD_TRIGGER, SendStep.AWAIT_RECEIPT]
    assert steps.next_send_step(steps.DELIVERED) is SendStep.DONE


@pytest.mark.parametrize("state", [steps.DELIVERED, steps.FAILED, steps.CLEANED])
def test_a_finished_send_is_never_uploaded_again(state):
    assert resume(state, remote_size=0, trigger=True, receipt=True) is SendStep.DONE


def test_data_uploaded_with_complete_remote_file_gets_its_trigger():
    assert resume(steps.DATA_UPLOADED, remote_size=10) is SendStep.UPLOAD_TRIGGER


def test_data_uploaded_with_incomplete_or_missing_remote_file_is_uploaded_again():
    assert resume(steps.DATA_UPLOADED, remote_size=3) is SendStep.UPLOAD_DATA
    assert resume(steps.DATA_UPLOADED, remote_size=None) is SendStep.UPLOAD_DATA
    assert resume(steps.DATA_UPLOADED, remote_size=None, local_ok=False) is SendStep.EXTRACT


def test_a_trigger_or_receipt_already_there_means_wait_for_the_receipt():
    # The trigger was written but the journal entry did not make it: never upload it twice.
    assert resume(steps.DATA_UPLOADED, remote_size=10, trigger=True) is SendStep.AWAIT_RECEIPT
    assert resume(steps.DATA_UPLOADED, remote_size=None, receipt=True) is SendStep.AWAIT_RECEIPT
    assert resume(steps.TRIGGER_UPLOADED) is SendStep.AWAIT_RECEIPT


def test_extracted_uploads_or_extracts_again_when_the_local_file_is_gone():
    assert resume(steps.EXTRACTED) is SendStep.UPLOAD_DATA
    assert resume(steps.EXTRACTED, local_ok=False) is SendStep.EXTRACT
    assert resume(steps.PLANNED) is SendStep.EXTRACT


def test_receive_steps_and_quarantine_retry():
    assert steps.next_receive_step(steps.SEEN) is ReceiveStep.DOWNLOAD
    assert steps.next_receive_step(steps.DOWNLOADED) is ReceiveStep.DELETE_REMOTE
    assert steps.next_receive_step(steps.REMOTE_DELETED) is ReceiveStep.LOAD
    assert steps.next_receive_step(steps.QUARANTINED) is ReceiveStep.LOAD
    assert steps.next_receive_step(steps.LOADED) is ReceiveStep.DONE


def test_receipt_polling_starts_fast_and_slows_down_to_a_cap():
    delays = [steps.receipt_poll_delay(w) for w in (0, 0.1, 1, 4, 100)]
    assert delays[0] == 0.01
    assert delays == sorted(delays)
    assert delays[-1] == 2.0


def test_orphans_are_reported_after_grace_and_removed_after_twice_grace():
    assert steps.orphan_action(10, 60) is None
    assert steps.orphan_action(60, 60) == "report"
    assert steps.orphan_action(120, 60) == "remove"


def test_retention_warning_from_warn_days():
    now = 100 * 86400.0
    assert steps.retention_due(now - 19 * 86400, now, 20) is None
    assert steps.retention_due(now - 21 * 86400, now, 20) == pytest.approx(21)


def test_keys_are_per_account():
    assert steps.send_key("KY", "a.csv") != steps.send_key("AULA", "a.csv")
    assert steps.receive_key("aarhus", "u-1") == "aarhus/u-1"


def test_quarantined_loads_are_retried_less_and_less_often():
    assert [steps.quarantine_delay(n) for n in (1, 2, 3)] == [30, 60, 120]
    assert steps.quarantine_delay(20) == 3600
