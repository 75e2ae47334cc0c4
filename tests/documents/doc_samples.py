"""Sample documents for the document tests, and where KOMBIT's official XSD lies."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

from lxml import etree

from sf1630.documents import (FILE_TYPE, INF_REF, ROUTING, ErrorEntry, FileDescriptor, Metadata, Receipt,
                              RoutingInfo, Trigger, route_selection_date, sender_timestamp)
from sf1630.documents.xml import make_parser

REPO = Path(__file__).resolve().parents[2]
OFFICIAL = REPO / "agent" / "sf1630" / "documents" / "schema" / "kombit-2023-09-26"  # KOMBIT's XSD, shipped
DATA_NAME = "KY_LIS_11111111_M03_20180402134858.csv"
CVR = "urn:oio:cvr-nr:29189617"


def make_simple(recipients=("IKAST-BRANDE_LIS01_SIMPEL",), file_type=FILE_TYPE, name=DATA_NAME) -> Trigger:
    """A simple-SFTP trigger as the KY source sends it (rule 5: with the file type)."""
    return Trigger(FileDescriptor(name, 154645, "KY_SFTPSIMPEL", tuple(recipients),
                                  "0c3e1e0a-5a51-4bd8-9c1b-2f0d1f8e7a10"), file_type=file_type)


def make_routing(params: tuple[str, ...] = ()) -> RoutingInfo:
    return RoutingInfo(INF_REF, "6f1c2b3a-0d4e-4f5a-8b6c-7d8e9f0a1b2c", CVR,
                       "a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d", sender_timestamp(datetime(2024, 3, 1, 12, 30, 5, 123000)),
                       CVR, "9e8d7c6b-5a49-4382-b716-0f1e2d3c4b5a", params)


def make_dynamic(params: tuple[str, ...] = (route_selection_date(date(2024, 3, 1)),)) -> Trigger:
    """A dynamic-routing trigger as the AULA source sends it."""
    return Trigger(FileDescriptor("AULA_LIS_29189617_M02_20240301123005.csv", 77, "AULA_SFTPSIMPEL", (ROUTING,)),
                   make_routing(params))


def make_metadata(file_type=FILE_TYPE, recipients=("IKAST-BRANDE_LIS01_SIMPEL",)) -> Metadata:
    t = make_simple(recipients)
    return Metadata("ca342b89-9c73-48e9-904a-1db31b32a60b", t.descriptor, None, file_type)


def make_receipts() -> list[Receipt]:
    return [Receipt("ca342b89-9c73-48e9-904a-1db31b32a60b", "KY-1", "SUCCESS"),
            Receipt("ca342b89-9c73-48e9-904a-1db31b32a60b", None, errors=(
                ErrorEntry(104, "SIZE_MISMATCH", "SizeInBytes is 10, the data file has 9 bytes"),
                ErrorEntry(106, "UNKNOWN_RECIPIENT", "no SFTP user X_LIS01"))),]


def official_errors(schema: etree.XMLSchema, data: bytes) -> list[str]:
    """KOMBIT's schema's complaints about the bytes as written (empty when valid)."""
    if schema.validate(etree.fromstring(data, make_parser())):
        return []
    return [e.message for e in schema.error_log]
