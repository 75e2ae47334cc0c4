"""`sf1630 validate FILE...` run as a user runs it (issue #8 section 1, issue #22, docs/PROTOCOL.md rule 5)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from sf1630.documents import build_metadata, build_receipt, build_trigger

from doc_samples import OFFICIAL, make_dynamic, make_metadata, make_receipts, make_simple


def validate(*args: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sf1630", "validate", *map(str, args)],
                          capture_output=True, text=True, timeout=60)


def write(folder: Path, name: str, data: bytes) -> Path:
    path = folder / name
    path.write_bytes(data)
    return path


def test_each_kind_is_named_and_valid(tmp_path: Path) -> None:
    files = [write(tmp_path, "a.csv.trigger", build_trigger(make_dynamic())),
             write(tmp_path, "a.csv.sftpreceipt", build_receipt(make_receipts()[0])),
             write(tmp_path, "b.csv.sftpreceipt", build_receipt(make_receipts()[1])),
             write(tmp_path, "a.csv.metadata", build_metadata(make_metadata(file_type=())))]
    run = validate(*files)
    assert run.returncode == 0, run.stdout + run.stderr
    lines = run.stdout.splitlines()
    assert lines[0] == (f"{files[0]}: trigger, dynamic routing (InfRef KommunalLedelseInformationOverfør_1), "
                        "data file AULA_LIS_29189617_M02_20240301123005.csv: valid")
    assert lines[1].startswith(f"{files[1]}: technical receipt (SUCCESS)") and lines[1].endswith(": valid")
    assert lines[2].startswith(f"{files[2]}: technical receipt (2 error(s))")
    assert lines[3].startswith(f"{files[3]}: metadata file, FileTransferUUID ca342b89")
    assert "note:" not in run.stdout


def test_file_type_trigger_gets_the_deviation_note(tmp_path: Path) -> None:
    path = write(tmp_path, "k.trigger", build_trigger(make_simple()))
    run = validate(path)
    assert run.returncode == 0
    assert f"{path}: trigger, simple SFTP to IKAST-BRANDE_LIS01_SIMPEL" in run.stdout
    assert "one known deviation from KOMBIT's 2023 XSD (docs/PROTOCOL.md rule 5)" in run.stdout


def test_metadata_the_contract_refuses_but_the_agent_reads(tmp_path: Path) -> None:
    old = write(tmp_path, "m.metadata", build_metadata(make_metadata(file_type=()), root="Trigger"))
    default = write(tmp_path, "d.metadata", build_metadata(make_metadata(file_type=()))
                    .replace(b"ns2:", b"").replace(b"xmlns:ns2", b"xmlns"))
    run = validate(old, default)
    assert run.returncode == 1
    lines = run.stdout.splitlines()
    assert lines[0] == (f"{old}: metadata file: not valid per the contract: <Trigger>: the root of a metadata file is "
                        "FileMetadata in the contract; a Trigger root carrying FileTransferUUID is the form "
                        "older platform clients read; the agent would still read it")
    assert any(line.startswith(f"{default}: metadata file: not valid per the contract: the namespace is the "
                               "default") and line.endswith("; the agent would still read it") for line in lines)


def test_trigger_with_qualified_children_is_refused_with_what_to_write(tmp_path: Path) -> None:
    data = build_trigger(make_simple()).replace(b"<FileDescriptor>", b"<ns2:FileDescriptor>") \
        .replace(b"</FileDescriptor>", b"</ns2:FileDescriptor>")
    path = write(tmp_path, "q.trigger", data)
    run = validate(path)
    assert run.returncode == 1
    assert run.stdout.splitlines() == [
        f"{path}: trigger: not valid per the contract: <ns2:FileDescriptor> is in the namespace; the contract "
        "wants only the root element in the namespace and every element inside it without a prefix: write "
        "<FileDescriptor>; only a simulator with lenient_triggers = true would take it",
        f"{path}:3 <FileDescriptor>: <ns2:FileDescriptor> is in the namespace; the contract wants only the root "
        "element in the namespace and every element inside it without a prefix: write <FileDescriptor>"]


def test_valid_per_contract_but_unsafe_name_is_refused(tmp_path: Path) -> None:
    data = build_trigger(make_simple()).replace(b"KY_LIS_11111111_M03_20180402134858.csv", b"../../etc/x.csv")
    path = write(tmp_path, "u.trigger", data)
    run = validate(path)
    assert run.returncode == 1
    assert run.stdout.startswith(f"{path}: trigger: valid per the contract, but refused: ")


def test_problems_are_listed_precisely_and_exit_1(tmp_path: Path) -> None:
    good = write(tmp_path, "good.trigger", build_trigger(make_simple()))
    data = build_trigger(make_simple()).replace(b"154645", b"big").replace(b"<Sender>KY_SFTPSIMPEL</Sender>", b"")
    bad = write(tmp_path, "bad.trigger", data)
    run = validate(good, bad)
    assert run.returncode == 1
    lines = run.stdout.splitlines()
    assert lines[0].endswith(": valid")
    assert any(line.startswith(f"{bad}: trigger: not valid per the contract: <SizeInBytes>: 'big' is not a valid value")
               and "(and 1 more problem(s))" in line for line in lines)
    assert any(line.startswith(f"{bad}:5 <SizeInBytes>: 'big' is not a valid value") for line in lines)
    assert any(line.startswith(f"{bad}:7 <SendersFileId>: This element is not expected. Expected is ( Sender )") for line in lines)


def test_hostile_and_unreadable_files(tmp_path: Path) -> None:
    xxe = write(tmp_path, "x.trigger", b'<?xml version="1.0"?>\n<!DOCTYPE t [<!ENTITY x SYSTEM '
                                       b'"file:///etc/passwd">]>\n<t>&x;</t>')
    cut = write(tmp_path, "c.trigger", build_trigger(make_simple())[:200])
    missing = tmp_path / "missing.trigger"
    run = validate(xxe, cut, missing)
    assert run.returncode == 1
    assert f"{xxe}:2: a DOCTYPE is not allowed" in run.stdout and "root:" not in run.stdout
    assert f"{cut}:" in run.stdout and "not well-formed XML" in run.stdout
    assert f"{missing}: cannot read: No such file or directory" in run.stdout


def test_wrong_root_says_what_is_expected(tmp_path: Path) -> None:
    path = write(tmp_path, "r.xml", b"<Order><Id>1</Id></Order>")
    run = validate(path)
    assert run.returncode == 1
    assert f"{path}:1 <Order>: root element <Order> is not an SF1630 document" in run.stdout


@pytest.fixture
def xsd_dir() -> Path:
    assert (OFFICIAL / "SFTPTypes.xsd").is_file()
    return OFFICIAL


def test_xsd_option_reports_kombits_verdict(tmp_path: Path, xsd_dir: Path) -> None:
    plain = write(tmp_path, "p.trigger", build_trigger(make_simple(file_type=())))
    typed = write(tmp_path, "t.trigger", build_trigger(make_simple()))
    run = validate("--xsd", xsd_dir, plain, typed)
    assert run.returncode == 0, run.stdout
    assert f"{plain}: KOMBIT XSD: valid" in run.stdout
    assert f"{typed}: KOMBIT XSD: refused, for the known deviation noted above only" in run.stdout
    shipped = validate(typed, "--xsd")
    assert shipped.returncode == 0 and "refused, for the known deviation noted above only" in shipped.stdout


def test_xsd_option_with_a_wrong_folder(tmp_path: Path) -> None:
    path = write(tmp_path, "p.trigger", build_trigger(make_simple()))
    run = validate("--xsd", tmp_path, path)
    assert run.returncode == 1
    assert f"{tmp_path / 'SFTPTypes.xsd'}: cannot load KOMBIT's XSD" in run.stderr
