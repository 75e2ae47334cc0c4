"""Fixtures of the document tests: KOMBIT's official XSD (the copy shipped in the package)."""

from __future__ import annotations

import pytest
from doc_samples import OFFICIAL
from lxml import etree

from sf1630.documents.xml import make_parser


@pytest.fixture(scope="session")
def official() -> etree.XMLSchema:
    """KOMBIT's 2023 XSD."""
    main = OFFICIAL / "SFTPTypes.xsd"
    assert main.is_file(), f"KOMBIT's XSD is missing from the package: {main}"
    return etree.XMLSchema(etree.parse(str(main), make_parser()))
