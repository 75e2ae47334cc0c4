"""The simulator refuses what KOMBIT's contract refuses, offers an RSA host key, and never lets one
receipt replace another (issue #22)."""

from __future__ import annotations

import logging
import re
import subprocess
from pathlib import Path

import pytest
from lxml import etree

from sf1630.documents.contract import kombit_xsd_path
from sf1630.documents.metadata import parse_metadata
from sf1630.documents.receipt import parse_receipt
from sf1630.documents.xml import make_parser
from sf1630.simulator import codes

from .conftest import DATA, KY, LIS1, needs, send, trigger_bytes
from .test_clients import sftp_batch
from .test_errors import refused
from .test_locking import wait_until

CORPUS = Path(__file__).parents[1] / "documents" / "corpus"
INVALID = sorted((CORPUS / "invalid").glob("trigger-*.trigger"))


def contract_element(data: bytes) -> str:
    """The element KOMBIT's XSD names first in its complaint about `data`."""
    schema = etree.XMLSchema(etree.parse(kombit_xsd_path(), make_parser()))
    assert not schema.validate(etree.fromstring(data, make_parser()))
    return re.match(r"Element '(?:\{[^}]*\})?([^']+)'", schema.error_log[0].message).group(1)


@pytest.mark.parametrize("path", INVALID, ids=[p.stem for p in INVALID])
def test_a_trigger_the_contract_refuses_gets_an_error_receipt(platform, connect, path):
    data = path.read_bytes()
    client = connect(platform, KY)
    client.put(f"OUT/{DATA}", b"x" * 154645)
    client.put(f"OUT/{DATA}.trigger", data)
    platform.wait_idle()

    # Nothing routed, the trigger gone, the data file left for the sender to delete (rule 3).
    assert refused(platform, KY, DATA) == [(codes.BAD_FILE_NAME if "256" in path.stem and "name" in path.stem
                                            else codes.SCHEMA_INVALID).number]
    receipt = parse_receipt((platform.inbox(KY) / f"{DATA}.sftpreceipt").read_bytes())
    text = receipt.errors[0].description
    assert text.startswith(f"OUT/{DATA}.trigger")
    element = contract_element(data)
    assert f"{element}>" in text or f"FileName '{'K' * 20}" in text or "the namespace is the default" in text, text
    assert (platform.outbox(KY) / DATA).exists()


def test_qualified_children_say_what_the_contract_expects(platform, connect):
    client = connect(platform, KY)
    send(client, b"abc", trigger=(CORPUS / "invalid" / "trigger-qualified-children.trigger").read_bytes())
    platform.wait_idle()
    [error] = parse_receipt((platform.inbox(KY) / f"{DATA}.sftpreceipt").read_bytes()).errors
    assert (error.code, error.code_description) == (101, "The trigger does not follow the contract's trigger schema")
    assert error.description == (
        f"OUT/{DATA}.trigger:3 <FileDescriptor>: <ns2:FileDescriptor> and 6 more element(s) inside <Trigger> are "
        "in the namespace; the contract wants only the root element in the namespace and every element inside "
        "it without a prefix: write <FileDescriptor>")


def test_the_agents_own_trigger_with_the_file_type_is_accepted(platform, connect):
    client = connect(platform, KY)
    trigger = trigger_bytes(DATA, 3)
    assert b"<FilType>LIS</FilType>" in trigger          # rule 5, which the contract's XSD refuses
    send(client, b"abc", trigger=trigger)
    platform.wait_idle()
    assert parse_receipt((platform.inbox(KY) / f"{DATA}.sftpreceipt").read_bytes()).ok
    assert parse_metadata((platform.inbox(LIS1) / f"{DATA}.metadata").read_bytes()).file_type[0] == ("FilType", "LIS")


def test_lenient_triggers_keeps_the_old_reading_and_says_so(make_platform, connect, caplog):
    caplog.set_level(logging.WARNING, logger="sf1630.simulator")
    running = make_platform(server={"lenient_triggers": True})
    assert "lenient_triggers is on: triggers KOMBIT's contract refuses" in caplog.text
    data = (CORPUS / "invalid" / "trigger-default-namespace.trigger").read_bytes()
    client = connect(running, KY)
    send(client, b"x" * 154645, trigger=data)
    running.wait_idle()
    assert parse_receipt((running.inbox(KY) / f"{DATA}.sftpreceipt").read_bytes()).ok
    assert (running.inbox(LIS1) / DATA).stat().st_size == 154645


# --- an RSA host key for older clients ------------------------------------------------------------

@needs("sftp")
@pytest.mark.parametrize("algorithm", ["rsa-sha2-512", "rsa-sha2-256"])
def test_a_client_that_pins_an_rsa_host_key(platform, keys, tmp_path, algorithm):
    rsa_only = tmp_path / "known_hosts_rsa"
    rsa_only.write_text("".join(line + "\n" for line in platform.known_hosts.read_text().splitlines()
                                if " ssh-rsa " in line))
    assert len(rsa_only.read_text().splitlines()) == 1
    (tmp_path / DATA).write_bytes(b"abc")
    (tmp_path / "t").write_bytes(trigger_bytes(DATA, 3))
    done = sftp_batch(platform, keys[KY], KY, f"put {DATA} OUT/{DATA}\nput t OUT/{DATA}.trigger\n",
                      "-o", f"HostKeyAlgorithms={algorithm}", "-o", f"UserKnownHostsFile={rsa_only}", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    platform.wait_idle()
    assert (platform.inbox(LIS1) / DATA).read_bytes() == b"abc"


@needs("sftp")
def test_no_sha1_rsa_host_key_signature(platform, keys, tmp_path):
    done = sftp_batch(platform, keys[KY], KY, "ls\n", "-o", "HostKeyAlgorithms=ssh-rsa", cwd=tmp_path)
    assert done.returncode != 0 and "no matching host key type found" in done.stderr


def test_the_rsa_host_key_is_created_private_on_first_start(make_platform):
    running = make_platform(server={"host_key_rsa": ".platform/rsa"})
    key = running.config.path.parent / ".platform" / "rsa"
    assert key.stat().st_mode & 0o777 == 0o600
    found = subprocess.run(["ssh-keygen", "-l", "-f", str(key)], capture_output=True, text=True, check=True).stdout
    assert "3072" in found and "(RSA)" in found
    assert any(" ssh-rsa " in line for line in running.platform.known_hosts_lines())


# --- two triggers naming one data file ------------------------------------------------------------

def test_a_second_trigger_for_a_data_file_in_processing_is_refused(platform, connect):
    client = connect(platform, KY)
    platform.call(platform.platform.hold)
    send(client, b"abc")
    wait_until(lambda: platform.locked(KY, DATA))
    client.put("OUT/again.trigger", trigger_bytes(DATA, 3))
    wait_until(lambda: platform.locked(KY, "again.trigger"))
    platform.call(platform.platform.release)
    platform.wait_idle()

    first = parse_receipt((platform.inbox(KY) / f"{DATA}.sftpreceipt").read_bytes())
    second = parse_receipt((platform.inbox(KY) / "again.trigger.sftpreceipt").read_bytes())
    assert first.ok
    assert [(e.code, e.code_description) for e in second.errors] == [
        (202, "The data file is being processed for another trigger")]
    assert f"OUT/{DATA} is being processed for another trigger" in second.errors[0].description
    assert first.file_transfer_uuid != second.file_transfer_uuid
    assert sorted(p.name for p in platform.inbox(LIS1).iterdir()) == [DATA, f"{DATA}.metadata"]   # once
    assert list(platform.outbox(KY).iterdir()) == []


def test_an_unread_receipt_is_never_replaced(platform, connect):
    client = connect(platform, KY)
    send(client, b"abc")
    platform.wait_idle()
    client.put("OUT/late.trigger", trigger_bytes(DATA, 3))      # the data file is already delivered
    platform.wait_idle()

    assert parse_receipt((platform.inbox(KY) / f"{DATA}.sftpreceipt").read_bytes()).ok
    late = parse_receipt((platform.inbox(KY) / "late.trigger.sftpreceipt").read_bytes())
    assert [e.code for e in late.errors] == [codes.DATA_MISSING.number]
    # Once the sender has read and deleted its receipt, the usual name is used again.
    client.remove(f"IN/{DATA}.sftpreceipt")
    send(client, b"abcd")
    platform.wait_idle()
    assert parse_receipt((platform.inbox(KY) / f"{DATA}.sftpreceipt").read_bytes()).ok
