"""Nothing in the repository points outside it: docs/PROTOCOL.md is the project's account of the
protocol, and KOMBIT's schema ships in the package (issue #22). Relative links in the docs resolve."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]


def committed_files() -> list[Path]:
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    return [ROOT / name for name in listed.decode("utf-8").split("\0") if name]


def test_no_committed_file_references_the_shared_folder():
    outside = "../" + "shared/"          # spelled apart so this file does not match itself
    offenders = []
    for path in committed_files():
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, IsADirectoryError, FileNotFoundError):
            continue
        offenders += [f"{path.relative_to(ROOT)}:{n}" for n, line in enumerate(text.splitlines(), 1)
                      if outside in line]
    assert offenders == [], "these point at a folder a clone does not have; link docs/PROTOCOL.md instead"


DOCS = sorted([ROOT / "README.md", *(ROOT / "docs").glob("*.md")])


@pytest.mark.parametrize("doc", DOCS, ids=[d.name for d in DOCS])
def test_relative_links_resolve(doc: Path):
    text = doc.read_text(encoding="utf-8")
    broken = [target for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text)
              if "://" not in target and not target.startswith("mailto:")
              and not (doc.parent / target).exists()]
    assert broken == []


def test_readme_and_every_doc_lead_to_the_protocol():
    assert "(docs/PROTOCOL.md)" in (ROOT / "README.md").read_text(encoding="utf-8")
    protocol = (ROOT / "docs" / "PROTOCOL.md").read_text(encoding="utf-8")
    for number in range(1, 10):     # other pages cite the rules by number
        assert re.search(rf"^{number}\. \*\*", protocol, flags=re.M), f"rule {number} is missing"
    for section in ("Parties", "File names", "The documents", "Trigger", "Technical receipt", "Metadata",
                    "Routing", "Receipts and their codes", "Delivery safety and clean-up", "Retention",
                    "Older clients of the platform", "Decisions"):
        assert re.search(rf"^#+ {re.escape(section)}$", protocol, flags=re.M), section
