"""Round trips through the simulator: simple and dynamic routing, several recipients, both metadata roots."""

from __future__ import annotations

import pytest
from lxml import etree

from sf1630.documents.metadata import parse_metadata
from sf1630.documents.receipt import parse_receipt
from sf1630.documents.trigger import FILE_TYPE

from .conftest import AULA, DATA, FLIS, FLIS_IT, KY, LIS1, LIS2, routing_info, send, trigger_bytes


def receipt_of(running, user: str, name: str):
    return parse_receipt((running.inbox(user) / f"{name}.sftpreceipt").read_bytes())


@pytest.mark.parametrize("metadata_root", ["FileMetadata", "Trigger"])
def test_simple_routing_to_two_recipients(make_platform, connect, metadata_root):
    running = make_platform(server={"metadata_root": metadata_root})
    client = connect(running, KY)
    data = b"kommune;antal\n751;42\n" * 100
    send(client, data, recipients=(LIS1, LIS2), file_id="sender-file-1")
    running.wait_idle()

    receipt = receipt_of(running, KY, DATA)
    assert receipt.ok and receipt.senders_file_id == "sender-file-1"
    for user in (LIS1, LIS2):
        assert (running.inbox(user) / DATA).read_bytes() == data
        raw = (running.inbox(user) / f"{DATA}.metadata").read_bytes()
        root = etree.fromstring(raw)
        assert root.tag.endswith("}" + metadata_root) and root.prefix == "ns2"
        meta = parse_metadata(raw)
        assert meta.file_transfer_uuid == receipt.file_transfer_uuid
        assert meta.descriptor.recipients == (user,)            # rule 6
        assert meta.descriptor.size_in_bytes == len(data) and meta.descriptor.sender == KY
        assert meta.file_type == FILE_TYPE                      # rule 5
    assert list(running.outbox(KY).iterdir()) == []


@pytest.mark.parametrize("metadata_root", ["FileMetadata", "Trigger"])
def test_dynamic_routing_delivers_to_the_routed_user(make_platform, connect, metadata_root):
    platform = make_platform(server={"metadata_root": metadata_root})
    client = connect(platform, AULA)
    data = "elev;klasse\nÅse;7.b\n".encode()
    send(client, data, name="AULA_LIS_29189560_M03_20240402134858.csv", sender=AULA,
         recipients=("ROUTING_V1_0_0",), routing=routing_info())
    platform.wait_idle()

    name = "AULA_LIS_29189560_M03_20240402134858.csv"
    assert receipt_of(platform, AULA, name).ok
    meta = parse_metadata((platform.inbox(FLIS) / f"{name}.metadata").read_bytes())
    assert meta.descriptor.recipients == (FLIS,)
    assert meta.routing is not None and meta.routing.recipient_it_system == FLIS_IT
    assert (platform.inbox(FLIS) / name).read_bytes() == data


def test_route_without_recipient_it_system_matches_any(make_platform, connect):
    route = {"sender_authority": "urn:oio:cvr-nr:29189560", "sender_it_system": routing_info().sender_it_system,
             "recipient_authority": "urn:oio:cvr-nr:29189560", "sftp_user": AULA, "recipient": LIS2}
    running = make_platform(routes=[route])
    client = connect(running, AULA)
    send(client, b"x\n", sender=AULA, recipients=("ROUTING_V1_0_0",), routing=routing_info(recipient_it=None))
    running.wait_idle()
    assert receipt_of(running, AULA, DATA).ok
    assert (running.inbox(LIS2) / DATA).read_bytes() == b"x\n"


def test_relative_and_absolute_paths_name_the_same_files(platform, connect):
    client = connect(platform, KY)
    assert client.realpath(".") == "/"
    client.put("/OUT/" + DATA, b"abc")
    assert client.stat("OUT/" + DATA).size == 3
    client.put("OUT/" + DATA + ".trigger", trigger_bytes(DATA, 3))
    platform.wait_idle()
    assert parse_receipt(client.get("IN/" + DATA + ".sftpreceipt")).ok
    client.remove("/IN/" + DATA + ".sftpreceipt")
    assert [n for n in client.listdir("IN") if n not in (".", "..")] == []


def test_non_ascii_name_with_utf8_byte_count(platform, connect):
    name = "KY_LIS_11111111_Æbleø_20180402134858.csv"
    data = "by;navn\nÅrhus;Søren\n".encode("utf-8")
    client = connect(platform, KY)
    client.put(f"OUT/{name}", data)
    client.put(f"OUT/{name}.trigger", trigger_bytes(name, len(data)))
    platform.wait_idle()
    assert receipt_of(platform, KY, name).ok
    assert (platform.inbox(LIS1) / name).read_bytes() == data
    assert parse_metadata((platform.inbox(LIS1) / f"{name}.metadata").read_bytes()).descriptor.file_name == name


def test_trigger_renamed_into_place_is_routed(platform, connect):
    client = connect(platform, KY)
    client.put(f"OUT/{DATA}.part", b"12345")
    client.posix_rename(f"OUT/{DATA}.part", f"OUT/{DATA}")
    client.put(f"OUT/{DATA}.trigger.part", trigger_bytes(DATA, 5))
    client.rename(f"OUT/{DATA}.trigger.part", f"OUT/{DATA}.trigger")
    platform.wait_idle()
    assert receipt_of(platform, KY, DATA).ok
    assert (platform.inbox(LIS1) / DATA).read_bytes() == b"12345"


def test_trigger_put_on_disk_is_found_by_the_scan(platform):
    (platform.outbox(KY) / DATA).write_bytes(b"abc")
    (platform.outbox(KY) / f"{DATA}.trigger").write_bytes(trigger_bytes(DATA, 3))
    platform.wait_idle()
    assert receipt_of(platform, KY, DATA).ok


def test_many_triggers_at_once(platform, connect):
    client = connect(platform, KY)
    names = [f"KY_LIS_11111111_M03_2018040213{n:04d}.csv" for n in range(30)]
    for n, name in enumerate(names):
        send(client, f"row {n}\n".encode(), name=name, recipients=(LIS1,))
    platform.wait_idle()
    for n, name in enumerate(names):
        assert receipt_of(platform, KY, name).ok
        assert (platform.inbox(LIS1) / name).read_bytes() == f"row {n}\n".encode()
    assert not list((platform.root / ".platform" / "journal").iterdir())
    assert not list((platform.root / ".platform" / "staging").iterdir())


def test_data_file_still_open_for_writing_is_copied_not_linked(platform, connect):
    client = connect(platform, KY)

    async def deliver_while_open() -> None:
        async with client.sftp.open(f"OUT/{DATA}", "wb") as f:
            await f.write(b"complete")
            async with client.sftp.open(f"OUT/{DATA}.trigger", "wb") as t:
                await t.write(trigger_bytes(DATA, 8))
            await platform.platform.wait_idle(5)
            await f.write(b" and more", 8)       # reaches only the sender's own (now unlinked) file
    platform.run(deliver_while_open())
    assert receipt_of(platform, KY, DATA).ok
    assert (platform.inbox(LIS1) / DATA).read_bytes() == b"complete"
