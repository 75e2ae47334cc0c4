"""Each user stays inside <root>/<user>/: no '..' out, no absolute path out, no symbolic link out."""

from __future__ import annotations

import os

import asyncssh
import pytest

from .conftest import KY, LIS1


def test_dotdot_cannot_leave_the_folder(platform, connect):
    client = connect(platform, KY)
    (platform.root / LIS1 / "IN" / "secret.csv").write_bytes(b"not yours")
    for path in ("../IKAST-BRANDE_LIS01_SIMPEL/IN/secret.csv", "/../IKAST-BRANDE_LIS01_SIMPEL/IN/secret.csv",
                 "OUT/../../IKAST-BRANDE_LIS01_SIMPEL/IN/secret.csv", ".."):
        with pytest.raises(asyncssh.SFTPPermissionDenied, match="leave your folder"):
            client.stat(path)
    with pytest.raises(asyncssh.SFTPPermissionDenied):
        client.put("../escaped.csv", b"x")
    assert not (platform.root / "escaped.csv").exists()
    assert client.stat("OUT/../IN").permissions is not None      # '..' that stays inside is fine


def test_absolute_paths_are_inside_the_folder(platform, connect):
    client = connect(platform, KY)
    with pytest.raises(asyncssh.SFTPNoSuchFile):
        client.get("/etc/passwd")
    with pytest.raises(asyncssh.SFTPNoSuchFile):
        client.stat(str(platform.root / LIS1 / "IN"))
    assert sorted(n for n in client.listdir("/") if n not in (".", "..")) == ["IN", "OUT"]


def test_symbolic_links_out_of_the_folder_are_refused(platform, connect):
    os.symlink("/etc", platform.root / KY / "OUT" / "etc")
    os.symlink(platform.root / LIS1 / "IN", platform.root / KY / "lis-inbox")
    client = connect(platform, KY)
    for path in ("OUT/etc/passwd", "lis-inbox", "lis-inbox/x.csv"):
        with pytest.raises(asyncssh.SFTPPermissionDenied, match="out of your folder"):
            client.stat(path)
    with pytest.raises(asyncssh.SFTPPermissionDenied):
        client.put("lis-inbox/x.csv", b"x")
    with pytest.raises(asyncssh.SFTPPermissionDenied):
        client.symlink("/etc/passwd", "OUT/link")
    with pytest.raises(asyncssh.SFTPPermissionDenied):
        client.link("OUT/../IN", "OUT/hard")


def test_inbox_is_read_and_delete_only(platform, connect):
    client = connect(platform, KY)
    (platform.inbox(KY) / "receipt.sftpreceipt").write_bytes(b"r")
    with pytest.raises(asyncssh.SFTPPermissionDenied, match="IN/ is written by the platform only"):
        client.put("IN/forged.sftpreceipt", b"x")
    with pytest.raises(asyncssh.SFTPPermissionDenied):
        client.rename("IN/receipt.sftpreceipt", "IN/other")
    with pytest.raises(asyncssh.SFTPPermissionDenied):
        client.rmdir("OUT")
    assert client.get("IN/receipt.sftpreceipt") == b"r"
    client.remove("IN/receipt.sftpreceipt")
    assert not (platform.inbox(KY) / "receipt.sftpreceipt").exists()


def test_unknown_user_and_wrong_key_are_refused(platform, connect, keys):
    with pytest.raises(asyncssh.PermissionDenied):
        platform.run(asyncssh.connect("127.0.0.1", platform.port, username="NOBODY", client_keys=[str(keys[KY])],
                                      known_hosts=str(platform.known_hosts)))
    with pytest.raises(asyncssh.PermissionDenied):
        platform.run(asyncssh.connect("127.0.0.1", platform.port, username=LIS1, client_keys=[str(keys[KY])],
                                      known_hosts=str(platform.known_hosts)))
