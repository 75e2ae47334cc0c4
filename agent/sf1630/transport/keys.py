"""SSH key files: make a new key pair and read a public key's fingerprint.

Kept in transport/ so that asyncssh stays behind one door (docs/ARCHITECTURE.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import asyncssh


@dataclass(frozen=True)
class KeyPair:
    """A new key: the private key in OpenSSH format (encrypted when a passphrase was given)."""

    private: bytes
    public: str
    fingerprint: str


def new_ed25519(comment: str, passphrase: str | None) -> KeyPair:
    """A fresh ed25519 key pair with ``comment``."""
    key = asyncssh.generate_private_key("ssh-ed25519", comment=comment)
    return KeyPair(private=key.export_private_key("openssh", passphrase),
                   public=key.export_public_key("openssh").decode().strip(),
                   fingerprint=key.get_fingerprint("sha256"))


def public_fingerprint(pub: Path) -> str | None:
    """``SHA256:…`` of the public key in ``pub``; None when it is missing or not a key."""
    try:
        return asyncssh.read_public_key(str(pub)).get_fingerprint("sha256")
    except (OSError, ValueError, asyncssh.KeyImportError):
        return None
