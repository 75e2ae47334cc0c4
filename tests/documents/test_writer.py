"""The strict writer: what it refuses to write (issue #8 "lenient reader, strict writer")."""

from __future__ import annotations

import dataclasses

import pytest

from sf1630.documents import (FILE_TYPE, ROUTING, FileDescriptor, Metadata, Receipt, Trigger, build_metadata,
                              build_receipt, build_trigger)
from sf1630.errors import DocumentError

from doc_samples import make_dynamic, make_metadata, make_routing, make_simple


def refused(build, *args) -> DocumentError:
    with pytest.raises(DocumentError) as info:
        build(*args)
    return info.value


def test_routing_value_must_stand_alone() -> None:
    t = make_simple(recipients=(ROUTING, "X_LIS01"))
    assert refused(build_trigger, t).element == "Recipients"


def test_dynamic_needs_routing_info_and_simple_must_not_have_it() -> None:
    assert "routing info" in refused(build_trigger, make_simple(recipients=(ROUTING,))).reason
    t = dataclasses.replace(make_simple(file_type=()), routing=make_routing())
    assert refused(build_trigger, t).element == "SFTPDynamicRoutingInfo"


def test_routing_info_and_file_type_not_both() -> None:
    t = dataclasses.replace(make_dynamic(), file_type=FILE_TYPE)
    assert "rule 5" in refused(build_trigger, t).reason


def test_schema_checks_what_is_written() -> None:
    bad = dataclasses.replace(make_dynamic().routing, sender_authority="urn:oio:cvr-nr:123")
    exc = refused(build_trigger, dataclasses.replace(make_dynamic(), routing=bad))
    assert exc.element == "SenderAuthority" and exc.origin == "(new trigger)" and exc.line


def test_negative_size_and_unsafe_name() -> None:
    d = make_simple().descriptor
    assert refused(build_trigger, Trigger(dataclasses.replace(d, size_in_bytes=-1))).element == "SizeInBytes"
    assert "slash" in refused(build_trigger, Trigger(dataclasses.replace(d, file_name="../x.csv"))).reason


def test_unwritable_characters() -> None:
    d = dataclasses.replace(make_simple().descriptor, senders_file_id="id\x01")
    assert refused(build_trigger, Trigger(d)).element == "SendersFileId"


def test_file_type_must_start_with_filtype_when_unqualified() -> None:
    exc = refused(build_trigger, make_simple(file_type=(("Type", "LIS"),)))
    assert exc.element == "Type"


def test_recipients_as_a_string_is_refused() -> None:
    d = FileDescriptor("d.csv", 1, "S", "R_LIS01")  # type: ignore[arg-type]
    assert "tuple" in refused(build_trigger, Trigger(d)).reason


def test_receipt_has_message_or_errors() -> None:
    assert "exactly one" in refused(build_receipt, Receipt("u")).reason


def test_metadata_names_delivered_users_and_a_known_root() -> None:
    m = make_metadata(recipients=(ROUTING,))
    exc = refused(build_metadata, m)
    assert exc.element == "Recipients" and f"never {ROUTING}" in exc.reason
    assert "metadata root" in refused(build_metadata, make_metadata(), "Metadata").reason
    assert "FileTransferUUID" in str(refused(build_metadata, dataclasses.replace(make_metadata(), file_transfer_uuid="")))


def test_metadata_copies_the_file_type() -> None:
    # Rule 5: the platform copies a simple trigger's <FilType>/<SF> into the metadata.
    t = make_simple()
    data = build_metadata(Metadata("u-1", t.descriptor, t.routing, t.file_type))
    assert b"<FilType>LIS</FilType>" in data and b"<SF>1630</SF>" in data
