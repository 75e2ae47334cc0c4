"""What a send journals about itself, and the trigger rebuilt from it.

Everything the trigger needs is journalled when the send is claimed, so a send resumed after a
crash (or after the config changed) uploads the very trigger it would have uploaded before.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sf1630.api import Job, Transfer
from sf1630.core.specs import SendSpec
from sf1630.documents.names import ROUTING
from sf1630.documents.trigger import FILE_TYPE, FileDescriptor, RoutingInfo, Trigger, build_trigger, sender_timestamp


def send_details(spec: SendSpec, job: Job, resend_reason: str | None = None,
                 resend_by: str | None = None) -> dict[str, Any]:
    """The journal details of a new send: period, recipients, route and the ids of this transfer."""
    route = spec.route
    details: dict[str, Any] = {
        "period": job.period,
        "recipient_code": spec.recipient_code,
        "created": job.created.isoformat(),
        "source_code": spec.source.code,
        "sender": spec.link.user,
        "routing": spec.routing,
        "recipients": list(spec.recipients),
        "file_type": spec.file_type,
        "senders_file_id": str(uuid.uuid4()),
    }
    if spec.routing == "dynamic":
        if route is None:
            raise ValueError(f"{spec.label}: dynamic routing needs route values")
        details["route"] = {
            "inf_ref": route.inf_ref,
            "sender_it_system": route.sender_it_system,
            "sender_authority": f"urn:oio:cvr-nr:{spec.municipality.cvr}",
            "transaction_id": str(uuid.uuid4()),
            "sender_timestamp": sender_timestamp(datetime.now()),
            "recipient_authority": f"urn:oio:cvr-nr:{route.recipient_authority_cvr}",
            "recipient_it_system": route.recipient_it_system,
        }
    if resend_reason is not None:
        details["resend_reason"] = resend_reason
        details["resend_by"] = resend_by or ""
    return details


def fresh_name(plan: Callable[[datetime], tuple[Job, str]], when: datetime,
               taken: Callable[[str], bool]) -> tuple[Job, str]:
    """The job and data file name of a send made at ``when``, or a second later while that name is
    ``taken`` (journalled, or being claimed now): a name is never used twice, even for two sends of one
    stream within a second (a resend, a retry) or two streams that would name their files alike."""
    job, name = plan(when)
    while taken(name):
        when += timedelta(seconds=1)
        job, name = plan(when)
    return job, name


def job_of(spec: SendSpec, t: Transfer) -> Job:
    """The job of a journalled send, rebuilt with the source options configured now."""
    d = t.details or {}
    return Job(municipality=spec.municipality, source=spec.source.code, recipient=d["recipient_code"],
               period=d["period"], created=datetime.fromisoformat(d["created"]), options=spec.options)


def build_send_trigger(t: Transfer) -> bytes:
    """The trigger of a journalled send (rule 5: simple triggers carry the file type by default)."""
    d = t.details or {}
    dynamic = d.get("routing") == "dynamic"
    descriptor = FileDescriptor(file_name=t.file_name, size_in_bytes=int(t.size or 0), sender=d["sender"],
                                recipients=(ROUTING,) if dynamic else tuple(d["recipients"]),
                                senders_file_id=d.get("senders_file_id"))
    if dynamic:
        return build_trigger(Trigger(descriptor=descriptor, routing=RoutingInfo(**d["route"])))
    return build_trigger(Trigger(descriptor=descriptor, file_type=FILE_TYPE if d.get("file_type", True) else ()))


def earlier_note(t: Any) -> str:
    """What became of an earlier send of the same period, as it really is (issue #17)."""
    if t.state == "delivered":
        return f"was delivered as {t.file_name}"
    if t.state == "trigger_uploaded":
        return f"was sent as {t.file_name} and waits for its receipt"
    if t.state == "data_uploaded":
        return f"is being sent as {t.file_name} (data file uploaded, trigger not yet)"
    return (f"is made as {t.file_name} ({t.state}) but not uploaded yet; it is finished when unfinished sends "
            "resume (at the start of every send, and every minute in run)")
