"""Every receipt error code, hostile triggers included; the data file stays, the trigger goes."""

from __future__ import annotations

import pytest

from sf1630.documents.receipt import parse_receipt
from sf1630.simulator import codes

from .conftest import AULA, DATA, FLIS, KY, LIS1, LIS2, routing_info, trigger_bytes

NS = "http://serviceplatformen.dk/xml/wsdl/soap11/SFTP/1/types"


def raw_trigger(file_name: str = DATA, size: int = 3, sender: str = KY, recipients: str = LIS1,
                content: str = "", prolog: str = "") -> bytes:
    """A trigger written by hand, for what the project's own writer refuses to produce."""
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n{prolog}<ns2:Trigger xmlns:ns2="{NS}"><FileDescriptor>'
            f"<FileName>{file_name}</FileName><SizeInBytes>{size}</SizeInBytes><Sender>{sender}</Sender>"
            f"<Recipients>{recipients}</Recipients></FileDescriptor>"
            f"<FileContentDescriptor>{content}</FileContentDescriptor></ns2:Trigger>").encode()


def refused(running, user: str, receipt_name: str) -> list[int]:
    """The error codes of the receipt; also checks the failure is a failure everywhere."""
    receipt = parse_receipt((running.inbox(user) / f"{receipt_name}.sftpreceipt").read_bytes())
    assert not receipt.ok and receipt.message is None
    for recipient in (LIS1, LIS2, FLIS):
        assert not list(running.inbox(recipient).iterdir())
    assert not list(running.outbox(user).glob("*.trigger"))
    return [e.code for e in receipt.errors]


def upload(client, trigger: bytes, data: bytes | None = b"abc", name: str = DATA, trigger_name: str | None = None):
    if data is not None:
        client.put(f"OUT/{name}", data)
    client.put(f"OUT/{trigger_name or name + '.trigger'}", trigger)


@pytest.mark.parametrize("trigger, code", [
    (b"<ns2:Trigger xmlns:ns2='x'><FileDescriptor>", codes.MALFORMED_XML),
    (b"\xff\xfe not xml at all", codes.MALFORMED_XML),
    (raw_trigger().replace(b"<SizeInBytes>3</SizeInBytes>", b""), codes.SCHEMA_INVALID),
    (raw_trigger(size=-3), codes.SCHEMA_INVALID),
    (raw_trigger().replace(b"ns2:Trigger", b"ns2:Other"), codes.SCHEMA_INVALID),
    (raw_trigger(recipients="ROUTING_V1_0_0"), codes.ROUTING_INFO_MISSING),
], ids=["truncated", "binary", "no-size", "negative-size", "wrong-root", "routing-without-info"])
def test_unreadable_trigger_gets_receipt_named_after_trigger(platform, connect, trigger, code):
    client = connect(platform, KY)
    upload(client, trigger, trigger_name="whatever.csv.trigger")
    platform.wait_idle()
    assert refused(platform, KY, "whatever.csv") == [code.number]
    assert (platform.outbox(KY) / DATA).read_bytes() == b"abc"          # the sender deletes it (rule 3)


def test_xxe_is_refused_without_reading_the_entity(platform, connect):
    xxe = raw_trigger(sender="&xxe;", prolog='<!DOCTYPE t [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>\n')
    client = connect(platform, KY)
    upload(client, xxe)
    platform.wait_idle()
    assert refused(platform, KY, DATA) == [codes.FORBIDDEN_XML.number]
    assert b"root:" not in (platform.inbox(KY) / f"{DATA}.sftpreceipt").read_bytes()


def test_billion_laughs_is_refused(platform, connect):
    entities = '<!ENTITY l0 "ha">' + "".join(f'<!ENTITY l{n} "{("&l" + str(n - 1) + ";") * 10}">' for n in range(1, 10))
    bomb = raw_trigger(sender="&l9;", prolog=f"<!DOCTYPE t [{entities}]>\n")
    client = connect(platform, KY)
    upload(client, bomb)
    platform.wait_idle(5)
    assert refused(platform, KY, DATA) == [codes.FORBIDDEN_XML.number]


@pytest.mark.parametrize("file_name", ["../IKAST-BRANDE_LIS01_SIMPEL/IN/evil.csv", "/etc/passwd", "a\\b.csv",
                                       "x.trigger"])
def test_unsafe_file_name_is_refused(platform, connect, file_name):
    client = connect(platform, KY)
    upload(client, raw_trigger(file_name=file_name), trigger_name="evil.csv.trigger")
    platform.wait_idle()
    assert refused(platform, KY, "evil.csv") == [codes.BAD_FILE_NAME.number]
    assert not (platform.root / "IKAST-BRANDE_LIS01_SIMPEL" / "IN" / "evil.csv").exists()


def test_data_file_missing(platform, connect):
    client = connect(platform, KY)
    upload(client, trigger_bytes(DATA, 3), data=None)
    platform.wait_idle()
    assert refused(platform, KY, DATA) == [codes.DATA_MISSING.number]


@pytest.mark.parametrize("size", [2, 4, 1 << 40], ids=["too-big", "truncated-data", "huge"])
def test_size_mismatch(platform, connect, size):
    client = connect(platform, KY)
    upload(client, trigger_bytes(DATA, size))
    platform.wait_idle()
    assert refused(platform, KY, DATA) == [codes.SIZE_MISMATCH.number]
    assert (platform.outbox(KY) / DATA).read_bytes() == b"abc"


def test_trigger_for_a_file_still_being_written(platform, connect):
    client = connect(platform, KY)

    async def half_written() -> None:
        async with client.sftp.open(f"OUT/{DATA}", "wb") as f:
            await f.write(b"first half;")
            async with client.sftp.open(f"OUT/{DATA}.trigger", "wb") as t:
                await t.write(trigger_bytes(DATA, 22))
            await platform.platform.wait_idle(5)
            await f.write(b"second half")   # allowed again once the route is over
    platform.run(half_written())
    assert refused(platform, KY, DATA) == [codes.SIZE_MISMATCH.number]
    assert (platform.outbox(KY) / DATA).read_bytes() == b"first half;second half"


def test_sender_must_be_the_uploading_user(platform, connect):
    client = connect(platform, KY)
    upload(client, trigger_bytes(DATA, 3, sender=AULA))
    platform.wait_idle()
    assert refused(platform, KY, DATA) == [codes.SENDER_MISMATCH.number]


def test_unknown_recipients_one_error_each_and_no_partial_delivery(platform, connect):
    client = connect(platform, KY)
    upload(client, trigger_bytes(DATA, 3, recipients=(LIS1, "NOBODY_1", "NOBODY_2")))
    platform.wait_idle()
    assert refused(platform, KY, DATA) == [codes.UNKNOWN_RECIPIENT.number] * 2


def test_no_route(platform, connect):
    client = connect(platform, AULA)
    other = routing_info(sender_it="11111111-2222-4333-8444-555555555555")
    upload(client, trigger_bytes(DATA, 3, sender=AULA, recipients=("ROUTING_V1_0_0",), routing=other))
    platform.wait_idle()
    assert refused(platform, AULA, DATA) == [codes.NO_ROUTE.number]


def test_route_is_bound_to_the_sftp_user(platform, connect):
    client = connect(platform, KY)     # the route is for AULA_SFTP; KY sends the same routing values
    upload(client, trigger_bytes(DATA, 3, sender=KY, recipients=("ROUTING_V1_0_0",), routing=routing_info()))
    platform.wait_idle()
    assert refused(platform, KY, DATA) == [codes.NO_ROUTE.number]


def test_several_problems_in_one_receipt(platform, connect):
    client = connect(platform, KY)
    upload(client, trigger_bytes(DATA, 99, sender=AULA, recipients=("NOBODY",)))
    platform.wait_idle()
    assert sorted(refused(platform, KY, DATA)) == [201, 300, 400]


def test_failed_receipt_keeps_senders_file_id(platform, connect):
    client = connect(platform, KY)
    upload(client, trigger_bytes(DATA, 1, file_id="id-7"))
    platform.wait_idle()
    receipt = parse_receipt((platform.inbox(KY) / f"{DATA}.sftpreceipt").read_bytes())
    assert receipt.senders_file_id == "id-7" and receipt.errors[0].code_description == codes.SIZE_MISMATCH.description
