"""Hostile and broken input: every case is a DocumentError naming the origin and where (issue #8)."""

from __future__ import annotations

import socket
import time

import pytest

from sf1630.documents import (MAX_BYTES, NS, InvalidDocument, build_receipt, build_trigger, detect,
                              parse_document, parse_metadata, parse_receipt, parse_trigger)
from sf1630.errors import DocumentError

from doc_samples import make_receipts, make_simple

ORIGIN = "OUT/KY_LIS_11111111_M03_20180402134858.csv.trigger"
GOOD = build_trigger(make_simple())


def refused(data: bytes, parse=parse_trigger) -> DocumentError:
    with pytest.raises(DocumentError) as info:
        parse(data, ORIGIN)
    exc = info.value
    assert exc.origin == ORIGIN and str(exc).startswith(ORIGIN)
    return exc


def with_doctype(doctype: str, body: str = "&x;") -> bytes:
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n{doctype}\n<ns2:Trigger xmlns:ns2="{NS}">'
            f"<FileDescriptor><FileName>{body}</FileName></FileDescriptor></ns2:Trigger>").encode()


def test_xxe_file_entity_is_refused_without_reading_the_file() -> None:
    exc = refused(with_doctype('<!DOCTYPE t [<!ENTITY x SYSTEM "file:///etc/passwd">]>'))
    assert exc.line == 2 and "DOCTYPE is not allowed" in str(exc)
    assert "root:" not in str(exc)


@pytest.fixture
def listener():
    """A real TCP socket on loopback, to see whether a parser tries to fetch a network entity."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(1)
    sock.settimeout(0.3)
    yield sock
    sock.close()


@pytest.mark.parametrize("doctype", [
    '<!DOCTYPE t [<!ENTITY x SYSTEM "http://127.0.0.1:{port}/x">]>',
    '<!DOCTYPE t [<!ENTITY % p SYSTEM "http://127.0.0.1:{port}/p"> %p;]>',
    '<!DOCTYPE t SYSTEM "http://127.0.0.1:{port}/t.dtd">',
], ids=["general-entity", "parameter-entity", "external-dtd"])
def test_xxe_network_entity_is_refused_and_nothing_is_fetched(listener, doctype: str) -> None:
    port = listener.getsockname()[1]
    exc = refused(with_doctype(doctype.format(port=port)))
    assert "DOCTYPE" in exc.reason and exc.line == 2
    with pytest.raises(socket.timeout):
        listener.accept()  # nobody connected


def test_doctype_hidden_in_utf16_is_refused() -> None:
    text = with_doctype('<!DOCTYPE t [<!ENTITY x SYSTEM "file:///etc/passwd">]>').decode()
    data = text.replace('encoding="UTF-8"', 'encoding="UTF-16"').encode("utf-16")
    assert b"<!DOCTYPE" not in data
    exc = refused(data)
    assert "DOCTYPE" in exc.reason and "root:" not in str(exc)


def test_billion_laughs_is_refused_fast() -> None:
    lols = "".join(f'<!ENTITY l{i} "{("&l%d;" % (i - 1)) * 10}">' for i in range(1, 10))
    doctype = f'<!DOCTYPE t [<!ENTITY l0 "lol">{lols}]>'
    started = time.monotonic()
    exc = refused(with_doctype(doctype, "&l9;"))
    assert time.monotonic() - started < 1.0
    assert "DOCTYPE" in exc.reason and exc.line == 2


def test_oversize_is_refused_before_parsing() -> None:
    data = GOOD.replace(b"<FileDescriptor>", b"<!--" + b"x" * MAX_BYTES + b"--><FileDescriptor>")
    exc = refused(data)
    assert "over the limit of 1048576 bytes (1 MiB)" in exc.reason


def test_truncated_xml_names_line_and_element() -> None:
    cut = GOOD[: GOOD.index(b"<Sender>") + 12]
    exc = refused(cut)
    assert "not well-formed XML" in exc.reason and exc.line == cut.count(b"\n") + 1
    assert exc.element == "Sender"


def test_empty_input() -> None:
    assert "not well-formed" in refused(b"").reason


@pytest.mark.parametrize("data, element", [
    (f'<ns2:Foo xmlns:ns2="{NS}"/>'.encode(), "Foo"),
    (f'<ns2:BusinessReceipt xmlns:ns2="{NS}"/>'.encode(), "BusinessReceipt"),
    (b'<x:Trigger xmlns:x="urn:not-the-platform"/>', "Trigger"),
])
def test_wrong_root(data: bytes, element: str) -> None:
    exc = refused(data)
    assert exc.element == element and exc.line == 1
    with pytest.raises(DocumentError):
        detect(data, ORIGIN)


def test_document_of_another_kind_is_refused() -> None:
    receipt = build_receipt(make_receipts()[0])
    assert "technical receipt, not a trigger" in refused(receipt).reason
    assert "trigger, not a metadata file" in refused(GOOD, parse_metadata).reason
    assert "trigger, not a technical receipt" in refused(GOOD, parse_receipt).reason


def line_of(data: bytes, marker: bytes) -> int:
    return data[: data.index(marker)].count(b"\n") + 1


def test_missing_element_names_its_parent_and_line() -> None:
    data = GOOD.replace(b"<SizeInBytes>154645</SizeInBytes>", b"")
    exc = refused(data)
    assert isinstance(exc, InvalidDocument)
    assert exc.element == "Sender" and exc.line == line_of(data, b"<Sender>")
    assert "SizeInBytes" in exc.reason


def test_missing_file_content_descriptor() -> None:
    data = GOOD[: GOOD.index(b"  <FileContentDescriptor>")] + b"</ns2:Trigger>\n"
    exc = refused(data)
    assert exc.element == "Trigger" and "FileContentDescriptor" in exc.reason


def test_non_numeric_size_names_the_element_and_line() -> None:
    data = GOOD.replace(b"154645", b"lots")
    exc = refused(data)
    assert exc.element == "SizeInBytes" and exc.line == line_of(data, b"<SizeInBytes>")
    assert "'lots'" in exc.reason and "unsignedLong" in exc.reason


def test_every_schema_problem_is_listed() -> None:
    data = GOOD.replace(b"154645", b"-1").replace(b"<Sender>KY_SFTPSIMPEL</Sender>", b"")
    exc = refused(data)
    assert isinstance(exc, InvalidDocument) and len(exc.problems) == 2
    assert {p.element for p in exc.problems} == {"SizeInBytes", "SendersFileId"}
    assert "1 more problem" in str(exc)


@pytest.mark.parametrize("name, why", [
    ("../../etc/passwd", "slash"), ("..", "'..'"), ("a\\b.csv", "backslash"),
    ("x.csv.trigger", ".trigger"), ("a\x7fb.csv", "U+007F"), ("a&#x85;b.csv", "U+0085"),
    ("fil\u202evsc.exe", "U+202E"), ("k" * 256, "length of '256'"), ("æ" * 128, "256 bytes"),
])
def test_hostile_file_name_in_trigger(name: str, why: str) -> None:
    data = GOOD.replace(b"KY_LIS_11111111_M03_20180402134858.csv", name.encode())
    exc = refused(data)
    assert why in exc.reason and exc.element == "FileName" and exc.line == line_of(data, b"<FileName>")


def test_characters_xml_cannot_carry_are_not_well_formed() -> None:
    exc = refused(GOOD.replace(b"KY_LIS_", b"KY&#1;LIS_"))
    assert "not well-formed" in exc.reason and exc.line == line_of(GOOD, b"<FileName>")


def test_hostile_recipient_in_trigger() -> None:
    data = GOOD.replace(b"<Recipients>IKAST-BRANDE_LIS01_SIMPEL", b"<Recipients>../KY_SFTPSIMPEL")
    exc = refused(data)
    assert exc.element == "Recipients" and "slash" in exc.reason


def test_routing_recipient_without_routing_info() -> None:
    data = GOOD.replace(b"IKAST-BRANDE_LIS01_SIMPEL", b"ROUTING_V1_0_0")
    exc = refused(data)
    assert "SFTPDynamicRoutingInfo" in exc.reason and exc.element == "FileContentDescriptor"
    assert exc.line == line_of(data, b"<Recipients>")


def test_routing_info_beside_file_type_is_refused() -> None:
    from doc_samples import make_dynamic

    dynamic = build_trigger(make_dynamic())
    data = dynamic.replace(b"<SFTPDynamicRoutingInfo>", b"<FilType>LIS</FilType><SFTPDynamicRoutingInfo>")
    exc = refused(data)
    assert exc.element == "SFTPDynamicRoutingInfo"


def test_metadata_uuid_on_trigger_root_is_not_a_trigger() -> None:
    data = GOOD.replace(b"<FileDescriptor>", b"<FileTransferUUID>u-1</FileTransferUUID><FileDescriptor>")
    assert "metadata file, not a trigger" in refused(data).reason
    assert parse_metadata(data, ORIGIN).file_transfer_uuid == "u-1"


def test_str_input_is_a_programming_error() -> None:
    with pytest.raises(TypeError):
        parse_document(GOOD.decode())  # type: ignore[arg-type]
