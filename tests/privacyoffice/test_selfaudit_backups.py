"""privacy-audit's backup check (PRV-AUD-1, PRV-ENC-3, PRV-RET-3) on real backups.

The backups are made by `quietshelf backup` into the configured folder. The check
reads file names and each backup's header (manifest) only: backups must exist, be
encrypted (not a SQLite file or a pg_dump in clear) and be no older than the backup
retention rule. A SQLite file is recognised by name and never opened.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import sqlite3

import pytest
from django.core.management import call_command
from time_machine import travel

from quietshelf.privacyoffice import selfaudit
from tests.privacyoffice.test_selfaudit import by_check, healthy  # noqa: F401 - fixture

# transaction=True: SQLite's online backup cannot copy a database from inside the test's
# own open write transaction (the command never runs inside one).
pytestmark = pytest.mark.django_db(databases="__all__", transaction=True)


@pytest.fixture(autouse=True)
def _fresh_key_caches():
    """Rows are flushed after each test here: no cached key may outlive its row."""
    from quietshelf.privacy import keys

    keys.reset_caches()
    yield
    keys.reset_caches()


@pytest.fixture
def folder(healthy, settings):  # noqa: F811
    path = healthy / "backups"
    settings.QUIETSHELF_BACKUP_DIR = path
    return path


def backups_finding():
    return by_check(selfaudit.run())["backups"]


def audit_json() -> dict:
    out = io.StringIO()
    call_command("privacy_audit", "--format", "json", stdout=out)
    return {f["check"]: f for f in json.loads(out.getvalue())["findings"]}


def make_backup():
    call_command("backup", stdout=io.StringIO())


def test_no_backup_warns_in_development_and_fails_in_production_prv_aud_1(folder, settings):
    finding = backups_finding()
    assert finding.status == "warn" and "No backup" in finding.message
    assert "quietshelf backup" in finding.fix
    settings.PRODUCTION = True
    assert backups_finding().status == "fail"


def test_real_backup_passes_through_the_command_prv_aud_1(folder, patron):
    patron(email="randi.fjell@example.org")
    make_backup()
    assert len(list(folder.glob("*.qsbackup"))) == 1
    finding = audit_json()["backups"]
    assert finding["status"] == "pass", finding
    assert "1 encrypted backup" in finding["message"] and "365 days" in finding["message"]


def test_plain_database_copies_fail_prv_aud_1(folder):
    make_backup()
    # a SQLite database copied in clear (made here with SQLite itself, never opened by
    # the audit) and a pg_dump custom-format file under a neutral name
    copy = sqlite3.connect(folder / "quietshelf-copy.sqlite3")
    copy.execute("create table t (x)")
    copy.commit()
    copy.close()
    finding = backups_finding()
    assert finding.status == "fail" and "quietshelf-copy.sqlite3" in finding.message
    assert "Unencrypted" in finding.message
    (folder / "quietshelf-copy.sqlite3").unlink()
    (folder / "nightly.dump").write_bytes(b"PGDMP\x01\x0f\x00" + b"\x00" * 64)
    finding = backups_finding()
    assert finding.status == "fail" and "nightly.dump" in finding.message


def test_damaged_or_tampered_backup_fails_prv_aud_1(folder):
    make_backup()
    real = next(folder.glob("*.qsbackup"))
    cut = folder / "quietshelf-cut.qsbackup"
    cut.write_bytes(real.read_bytes()[:-40])  # truncated
    finding = backups_finding()
    assert finding.status == "fail" and "quietshelf-cut.qsbackup" in finding.message
    cut.unlink()
    assert backups_finding().status == "pass"


def test_backup_older_than_its_rule_fails_prv_aud_1(folder, settings):
    make_backup()
    days = settings.QUIETSHELF_RETENTION["backup"]["days"]
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=days + 2)
    with travel(later, tick=False):
        finding = backups_finding()
    assert finding.status == "fail" and f"({days} days)" in finding.message
    assert "quietshelf retention" in finding.fix
