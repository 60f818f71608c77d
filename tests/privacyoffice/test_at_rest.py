"""PRV-ENC-1 for the privacy office: what a person asked and what an order names are not in
clear in the raw database (SQLite file or pg_dump)."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.db import connections

from quietshelf.patrons import services as patron_services
from quietshelf.privacyoffice import services
from tests.dbfiles import sqlite_file_bytes
from tests.patrons.test_at_rest import _pg_dump

DETAILS = "Please correct my name to Torgunn Hjelmeset-Vik"
SCOPE = "All loans of Torgunn Hjelmeset-Vik since March"
OUTCOME = "Name corrected after the Hjelmeset-Vik letter"


def test_case_details_and_order_scope_are_encrypted_prv_enc_1(transactional_db):
    p = patron_services.patron_register(
        actor=None, given_name="Torgunn", family_name="Hjelmeset-Vik", barcode="ATREST-PO-1"
    )
    case = services.case_open(
        actor=None, kind="rectification", channel="letter", patron_id=p.pk, details=DETAILS
    )
    services.case_close(actor=None, case_id=case.pk, status="done", note=OUTCOME)
    services.government_request_open(
        actor=None, kind="court_order", agency="Example District Court", patron_id=p.pk, scope=SCOPE
    )
    dumps = {}
    for alias in ("default", "keystore"):
        if connections[alias].vendor == "sqlite":
            if str(connections[alias].settings_dict["NAME"]).startswith(("file:", ":memory:")):
                pytest.skip("the test database is in memory")
            dumps[alias] = sqlite_file_bytes(alias)
        else:
            if not Path("/usr/bin/pg_dump").exists():
                pytest.skip("pg_dump is not installed")
            dumps[alias] = _pg_dump(alias)
    assert b"Example District Court" in dumps["default"]  # the dump holds the rows
    for alias, blob in dumps.items():
        for needle in (DETAILS, SCOPE, OUTCOME, "Hjelmeset-Vik"):
            for encoding in ("utf-8", "utf-16-le"):
                assert needle.encode(encoding) not in blob, f"{needle!r} found in {alias}"
