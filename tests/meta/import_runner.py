"""Import each named module in a forked child of an interpreter that has imported none of ours.

Run as ``python import_runner.py MODULE...``; prints one JSON object: module -> error text or "".
Third-party libraries are imported once before forking (they are not what this checks, and
importing asyncssh or psycopg 118 times would take a minute); the project's own modules never are.
"""

import importlib
import json
import os
import sys
import traceback

BATCH = 4
PRELOAD = ("asyncssh", "lxml.etree", "pluggy", "psycopg", "fabric", "paramiko", "cryptography", "pytest")


def child(name: str, write_fd: int) -> None:
    try:
        importlib.import_module(name)
        message = ""
    except BaseException:
        message = traceback.format_exc(limit=6)
    os.write(write_fd, message.encode())
    os._exit(0)


def start(name: str) -> tuple[int, int]:
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_fd)
        child(name, write_fd)
    os.close(write_fd)
    return pid, read_fd


def finish(pid: int, read_fd: int) -> str:
    chunks = []
    while chunk := os.read(read_fd, 65536):
        chunks.append(chunk)
    os.close(read_fd)
    _, status = os.waitpid(pid, 0)
    text = b"".join(chunks).decode(errors="replace")
    return text if status == 0 else text or f"the import ended the process (status {status})"


def main() -> None:
    for name in PRELOAD:
        try:
            importlib.import_module(name)
        except ImportError:
            pass
    own = [m for m in sys.modules if m.split(".")[0] in ("sf1630", "sf1630_plugins")]
    assert not own, f"a preloaded library imported {own}"
    names, results = sys.argv[1:], {}
    for first in range(0, len(names), BATCH):  # a few children at a time: the machine has 2 cores
        batch = names[first:first + BATCH]
        started = [start(name) for name in batch]
        results.update((name, finish(*child)) for name, child in zip(batch, started))
    print(json.dumps(results))


if __name__ == "__main__":
    main()
