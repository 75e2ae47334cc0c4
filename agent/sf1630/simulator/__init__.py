"""The Serviceplatform simulator: an SFTP server that routes SF1630 files like KOMBIT's platform.

config.py (TOML), server.py (Platform, SSH server), handler.py (SFTP protocol as OpenSSH clients
expect it), sftp.py (each user's file view, locking), router.py (settle, locks, scheduling),
decision.py (checks, receipt, metadata), delivery.py (journal and crash-safe steps), retention.py,
codes.py, algorithms.py. See docs/SIMULATOR.md.
"""
