"""asyncssh's look for optional libraries, answered without starting other programs.

When asyncssh is imported it asks ``ctypes.util.find_library`` for liboqs (post-quantum key
exchange) and libnettle (UMAC), under several names. On Linux each question runs ``ldconfig -p``,
and one that finds nothing also ``gcc`` and ``ld``: without liboqs, eight programs and 25-90 ms of
CPU before every command that connects (each run of a LIS agent, the simulator's start).
The command line answers these names from the library folders instead: ``LD_LIBRARY_PATH``, the
folders ``/etc/ld.so.conf`` lists and the standard ones. Every other name still goes to ctypes.
"""

from __future__ import annotations

import ctypes.util
import functools
import glob
import os
import sys
from collections.abc import Callable, Iterator

# What asyncssh.crypto.pq and asyncssh.crypto.umac ask for, and the file names that answer.
NAMES = {"oqs": "liboqs", "liboqs": "liboqs", "nettle": "libnettle", "libnettle": "libnettle",
         "libnettle-6": "libnettle-6"}
_STANDARD = ("/usr/local/lib", "/usr/local/lib64", "/lib", "/lib64", "/usr/lib", "/usr/lib64")


def quick_lookup() -> None:
    """Answer asyncssh's lookups from the library folders (Linux; once per process)."""
    find: Callable[[str], str | None] = ctypes.util.find_library
    if not sys.platform.startswith("linux") or getattr(find, "sf1630_quick", False):
        return

    def find_library(name: str) -> str | None:
        return find_in_folders(NAMES[name]) if name in NAMES else find(name)

    find_library.sf1630_quick = True  # type: ignore[attr-defined]
    ctypes.util.find_library = find_library


def find_in_folders(stem: str) -> str | None:
    """The path of ``stem``'s shared library (``stem.so*``) in the first folder that has one, else None."""
    prefix = stem + ".so"
    for folder in dict.fromkeys(folders()):
        found = sorted(name for name in _names(folder) if name.startswith(prefix))
        if found:
            return os.path.join(folder, found[0])
    return None


@functools.lru_cache(maxsize=None)
def _names(folder: str) -> tuple[str, ...]:
    # A folder is read once per process: three names are looked up in the same folders.
    try:
        return tuple(os.listdir(folder))
    except OSError:
        return ()


def folders() -> Iterator[str]:
    """Where the dynamic linker looks, in its order: LD_LIBRARY_PATH, ld.so.conf, the standard folders."""
    yield from (p for p in os.environ.get("LD_LIBRARY_PATH", "").split(":") if p)
    yield from _conf("/etc/ld.so.conf", depth=0)
    arch = getattr(sys.implementation, "_multiarch", "")
    for folder in _STANDARD:
        if arch:
            yield f"{folder}/{arch}"
        yield folder


def _conf(path: str, depth: int) -> Iterator[str]:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            lines = f.read().splitlines()
    except OSError:
        return
    for line in lines:
        line = line.split("#", 1)[0].strip()
        if line.startswith("include") and depth < 4:  # files of more folders, e.g. ld.so.conf.d/*.conf
            parts = line.split(None, 1)
            pattern = parts[1] if len(parts) > 1 else ""
            if pattern and not os.path.isabs(pattern):
                pattern = os.path.join(os.path.dirname(path), pattern)
            for included in sorted(glob.glob(pattern)):
                yield from _conf(included, depth + 1)
        elif line.startswith("/"):
            yield line
