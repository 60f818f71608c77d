"""PRV-ENC-1 item 6: no personal value is stored in clear, in any database file or dump."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from django.db import connections

from tests.dbfiles import sqlite_file_bytes
from tests.factories import StaffUserFactory

PEOPLE = [
    dict(
        name="Solveig Fjellstrand",
        email="Solveig.Fjellstrand@example.net",
        phone="+47 413 27 918",
        address="Brattbakken 41, 7012 Trondheim",
        barcode="N0RD-7733-1928",
    ),
    dict(
        name="Oluwaseun Marchetti",
        email="o.marchetti@example.com",
        phone="0044 20 7946 0321",
        address="17 Larkspur Mews, Exampleton",
        barcode="29384756102938",
    ),
]
USERNAME = "Hedvig.Staffmember"


def _needles():
    for person in PEOPLE:
        for value in person.values():
            yield value
            yield value.lower()
    yield USERNAME
    yield USERNAME.lower()


def _sqlite_bytes(alias: str) -> bytes:
    return sqlite_file_bytes(alias)


def _pg_dump(alias: str) -> bytes:
    s = connections[alias].settings_dict
    env = {**os.environ, "PGPASSWORD": s.get("PASSWORD") or ""}
    cmd = ["/usr/bin/pg_dump", "-h", s.get("HOST") or "127.0.0.1", "-p", str(s.get("PORT") or 5432)]
    cmd += ["-U", s.get("USER") or "postgres", "--data-only", s["NAME"]]
    return subprocess.run(cmd, check=True, capture_output=True, env=env, timeout=120).stdout


def test_no_personal_value_in_raw_database_files_or_dumps_PRV_ENC_1(trecords):
    from quietshelf.privacy.search import index_name_tokens

    for person in PEOPLE:
        row = trecords.objects.create(**person)
        index_name_tokens(subject_id=row.subject_id, scope="test.name", text=person["name"])
    StaffUserFactory(username=USERNAME)
    dumps = {}
    for alias in ("default", "keystore"):
        if connections[alias].vendor == "sqlite":
            dumps[alias] = _sqlite_bytes(alias)
        else:
            if not Path("/usr/bin/pg_dump").exists():
                pytest.skip("pg_dump is not installed")
            dumps[alias] = _pg_dump(alias)
    # the rows are really there (the dump is not simply empty)
    assert dumps["default"].count(b"privacy_test_subjectrecord") or len(dumps["default"]) > 10000
    for alias, blob in dumps.items():
        for needle in _needles():
            for encoding in ("utf-8", "utf-16-le"):
                assert needle.encode(encoding) not in blob, f"{needle!r} found in {alias}"
