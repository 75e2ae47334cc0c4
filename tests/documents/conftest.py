"""Fixtures of the document tests: KOMBIT's official XSD when the shared folder exists."""

from __future__ import annotations

import pytest
from doc_samples import OFFICIAL
from lxml import etree

from sf1630.documents.xml import make_parser


@pytest.fixture(scope="session")
def official() -> etree.XMLSchema:
    """KOMBIT's 2023 XSD; the tests that need it skip where the shared folder is missing."""
    main = OFFICIAL / "SFTPTypes.xsd"
    if not main.is_file():
        pytest.skip(f"KOMBIT's XSD folder {OFFICIAL} is missing; official-schema check skipped")
    return etree.XMLSchema(etree.parse(str(main), make_parser()))
