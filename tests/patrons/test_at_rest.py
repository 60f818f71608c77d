"""PRV-ENC-1 for patrons: no personal value in clear in the raw database files or a pg_dump."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
from pathlib import Path

import pytest
from django.db import connections

from quietshelf.patrons import services
from tests.dbfiles import sqlite_file_bytes

PERSON = {
    "given_name": "Gunnhild",
    "family_name": "Tveitereid",
    "email": "gunnhild.tveitereid@example.net",
    "phone": "+47 415 92 736",
    "address": "Kvernhusbakken 19, 6789 Eksempelvik",
    "barcode": "QX-88117-4402",
}
IDENTIFIER = "CAMPUS-5510932"
NOTE = "Prefers the reading room by the window"
COMMENT = "Returned a damaged atlas twice"


def _needles():
    for value in [*PERSON.values(), IDENTIFIER, NOTE, COMMENT, "+4741592736", "2011-04-05"]:
        yield value
        yield value.lower()


def _sqlite_bytes(alias: str) -> bytes:
    return sqlite_file_bytes(alias)


def _pg_dump(alias: str) -> bytes:
    s = connections[alias].settings_dict
    env = {**os.environ, "PGPASSWORD": s.get("PASSWORD") or ""}
    cmd = ["/usr/bin/pg_dump", "-h", s.get("HOST") or "127.0.0.1", "-p", str(s.get("PORT") or 5432)]
    cmd += ["-U", s.get("USER") or "postgres", "--data-only", s["NAME"]]
    return subprocess.run(cmd, check=True, capture_output=True, env=env, timeout=120).stdout


def test_patron_values_are_not_in_clear_at_rest_PRV_ENC_1(transactional_db):
    from tests.factories import BranchFactory

    branch = BranchFactory(code="REST", name="Rest branch")
    p = services.patron_register(
        actor=None,
        home_branch=branch,
        identifiers=[("institutional_id", IDENTIFIER)],
        date_of_birth=dt.date(2011, 4, 5),
        **PERSON,
    )
    services.note_add(actor=None, patron_id=p.pk, text=NOTE)
    services.block_add(actor=None, patron_id=p.pk, reason_code="manual", comment=COMMENT)
    dumps = {}
    for alias in ("default", "keystore"):
        if connections[alias].vendor == "sqlite":
            if str(connections[alias].settings_dict["NAME"]).startswith(("file:", ":memory:")):
                pytest.skip("the test database is in memory")
            dumps[alias] = _sqlite_bytes(alias)
        else:
            if not Path("/usr/bin/pg_dump").exists():
                pytest.skip("pg_dump is not installed")
            dumps[alias] = _pg_dump(alias)
    assert b"Rest branch" in dumps["default"]  # the dump holds the data (clear where not personal)
    for alias, blob in dumps.items():
        for needle in _needles():
            for encoding in ("utf-8", "utf-16-le"):
                assert needle.encode(encoding) not in blob, f"{needle!r} found in {alias}"
