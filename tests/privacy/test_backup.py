"""Encrypted backups and a restore that keeps erased patrons erased (PRV-ENC-3, PRV-RET-3).

Real instances in subprocesses: instance A makes a backup, then erases a
patron; the backup is restored into an empty instance B, which re-applies A's
erasure tombstones. SQLite by default; on PostgreSQL (DATABASE_URL set) each
instance gets throw-away databases and pg_dump / pg_restore do the copying.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import uuid

import pytest

KEY = "1:" + base64.b64encode(b"k" * 32).decode()
OTHER_KEY = "1:" + base64.b64encode(b"q" * 32).decode()
SETUP = (
    "import django, os, sys, json;"
    "os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'quietshelf.config.settings');"
    "django.setup();"
)
MAKE = """
from quietshelf.patrons import services
kept = services.patron_register(actor=None, given_name='Astrid', family_name='Bergvik',
                                barcode='23009990001', email='astrid.bergvik@example.org')
gone = services.patron_register(actor=None, given_name='Solveig', family_name='Haugtun',
                                barcode='23009990002', email='solveig.haugtun@example.org')
print(json.dumps({'kept': str(kept.pk), 'gone': str(gone.pk), 'subject': str(gone.subject_id)}))
"""
ERASE = """
from quietshelf.patrons import services
services.patron_erase(actor=None, patron_id=sys.argv[1], reason='asked')
"""
LOOK = """
from quietshelf.patrons import selectors
from quietshelf.patrons.models import Patron
from quietshelf.privacy import keys
from quietshelf.privacy.search import search_name_tokens
out = {
  'name': bool(search_name_tokens(scope='patron.name', query='Haugtun')),
  'card': selectors.patron_by_card_barcode('23009990002') is not None,
  'email': selectors.patron_by_email('solveig.haugtun@example.org') is not None,
  'row': Patron.objects.filter(pk=sys.argv[1]).exists(),
  'key': keys.data_key(__import__('uuid').UUID(sys.argv[2])) is not None,
  'kept_name': Patron.objects.get(pk=sys.argv[3]).given_name,
  'kept_card': selectors.patron_by_card_barcode('23009990001') is not None,
}
print(json.dumps(out))
"""


def _pg_url(name: str) -> str | None:
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        return None
    base = url.rsplit("/", 1)[0]
    return f"{base}/{name}"


@pytest.fixture
def instance(tmp_path, migrated_instances):
    made = []

    def make(name: str, key: str = KEY, *, migrated: bool = False) -> dict:
        """An empty instance, or with migrated=True one as `quietshelf migrate` leaves it
        (a copy of one migrated once per session: tests/instances.py, #14 item 8)."""
        home = tmp_path / name
        home.mkdir()
        env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL"}}
        env.update(
            {
                "QUIETSHELF_HOME": str(home),
                "QUIETSHELF_MASTER_KEY": key,
                "QUIETSHELF_ENV": "development",
            }
        )
        env.pop("QUIETSHELF_KEYSTORE_URL", None)
        db = f"qs_bk_{uuid.uuid4().hex[:10]}"
        url = _pg_url(db)
        if url:
            env["DATABASE_URL"] = url
            made.extend([db, f"{db}_keystore"])
            if not migrated:
                for n in (db, f"{db}_keystore"):
                    _psql(f"CREATE DATABASE {n}")
        if migrated:
            migrated_instances.copy_into(env)
        env["home"] = str(home)
        return env

    yield make
    for n in made:
        _psql(f"DROP DATABASE IF EXISTS {n} WITH (FORCE)")


def _psql(sql: str) -> None:
    admin = _pg_url("postgres")
    subprocess.run(["psql", admin, "-c", sql], capture_output=True, check=True, timeout=60)  # noqa: S603,S607


def qs(env, *args):
    return subprocess.run(
        [sys.executable, "-m", "quietshelf", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def py(env, code, *args):
    out = subprocess.run(
        [sys.executable, "-c", SETUP + code, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout.strip().splitlines()[-1]) if out.stdout.strip() else None


def _backup(env, folder):
    out = qs(env, "backup", "--folder", str(folder))
    assert out.returncode == 0, out.stderr
    files = sorted(folder.glob("*.qsbackup"))
    assert len(files) == 1 and (folder / (files[0].name + ".manifest.json")).exists()
    return files[0]


def test_restored_backup_keeps_the_erased_patron_erased_prv_ret_3(instance, tmp_path):
    a = instance("a", migrated=True)
    ids = py(a, MAKE)
    path = _backup(a, tmp_path / "backups")
    raw = path.read_bytes()
    assert b"Haugtun" not in raw and b"solveig" not in raw.lower()  # encrypted (PRV-ENC-3)
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    py(a, ERASE, ids["gone"])
    b = instance("b")
    out = qs(b, "restore", str(path), "--tombstones", str(tmp_path / "a" / "erasures.tombstones"))
    assert out.returncode == 0, out.stderr
    assert "1 erased people forgotten again" in out.stdout
    seen = py(b, LOOK, ids["gone"], ids["subject"], ids["kept"])
    assert seen == {
        "name": False,
        "card": False,
        "email": False,
        "row": False,
        "key": False,
        "kept_name": "Astrid",
        "kept_card": True,
    }


def test_restore_refuses_bad_files_and_leaves_the_target_untouched_prv_ret_3(instance, tmp_path):
    a = instance("a", migrated=True)
    py(a, MAKE)
    path = _backup(a, tmp_path / "backups")
    junk = tmp_path / "notes.qsbackup"
    junk.write_bytes(b"hello, this is not a backup\n")
    short = tmp_path / "short.qsbackup"
    short.write_bytes(path.read_bytes()[:-100])
    b = instance("b", key=OTHER_KEY)
    cases = [
        (junk, "not a Quietshelf backup"),
        (short, "truncated"),
        (path, "another master key"),
        (tmp_path / "missing.qsbackup", "cannot read"),
    ]
    for bad, words in cases:
        out = qs(b, "restore", str(bad))
        assert out.returncode == 2, out.stderr
        assert words in out.stderr and len(out.stderr.strip().splitlines()) == 1
        assert "Traceback" not in out.stderr
    if "DATABASE_URL" not in b:
        assert not (tmp_path / "b" / "quietshelf.sqlite3").exists()  # untouched
    # a backup does not go over a live instance
    out = qs(a, "restore", str(path))
    assert out.returncode == 2 and "not empty" in out.stderr
