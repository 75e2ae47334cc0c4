"""The SSH algorithms the simulator offers (issue #12).

Fast ones first, then what SSH libraries of the paramiko 2.x era need (PROTOCOL.md, "Older clients of
the platform"). No SHA-1 signatures, no CBC, no SHA-1 key exchange. In SSH the client's order decides
among the algorithms both sides support, so the order here only matters for clients without a preference.
"""

from __future__ import annotations

from typing import Any

KEX = ("curve25519-sha256", "curve25519-sha256@libssh.org", "ecdh-sha2-nistp256")
CIPHERS = (
    "aes128-gcm@openssh.com", "chacha20-poly1305@openssh.com", "aes256-gcm@openssh.com",
    "aes128-ctr", "aes192-ctr", "aes256-ctr",
)
MACS = (
    "hmac-sha2-256-etm@openssh.com", "hmac-sha2-512-etm@openssh.com", "hmac-sha2-256", "hmac-sha2-512",
)
COMPRESSION = ("none",)
# Signatures accepted from user keys (and advertised in server-sig-algs); ssh-rsa (SHA-1) is refused.
SIGNATURES = ("ssh-ed25519", "rsa-sha2-512", "rsa-sha2-256", "ecdsa-sha2-nistp256")
# Host key signatures: ed25519, and RSA with SHA-2 for older clients that pin an RSA host key.
HOST_KEY = ("ssh-ed25519", "rsa-sha2-512", "rsa-sha2-256")

GROUPS = (
    ("key exchange", KEX),
    ("ciphers", CIPHERS),
    ("MACs (unused with GCM and chacha20-poly1305)", MACS),
    ("host key", HOST_KEY),
    ("user key signatures", SIGNATURES),
    ("compression", COMPRESSION),
)


def describe() -> str:
    """Human-readable list of what the server offers, for `sf1630 platform serve --print-algorithms`."""
    return "\n".join(f"{title}:\n" + "".join(f"  {name}\n" for name in names) for title, names in GROUPS).rstrip()


def restrict_host_key_algorithms(offered: dict[bytes, Any]) -> None:
    """Drop from asyncssh's host-key table what HOST_KEY leaves out (an RSA key would add ssh-rsa, SHA-1)."""
    for alg in list(offered):
        if alg.decode("ascii") not in HOST_KEY:
            del offered[alg]


def listen_options() -> dict[str, list[str]]:
    """Keyword arguments for asyncssh's server options."""
    return {
        "kex_algs": list(KEX),
        "encryption_algs": list(CIPHERS),
        "mac_algs": list(MACS),
        "compression_algs": list(COMPRESSION),
        "signature_algs": list(SIGNATURES),
    }
