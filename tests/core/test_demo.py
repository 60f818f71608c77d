"""make demo's command: a fresh instance, real data, per-instance logins (SEC-AUTH-1, CAT-1)."""

from __future__ import annotations

import os
import re

import pytest

from tests.conftest import MARC_DIR
from tests.instances import run_demo


@pytest.fixture
def on_sqlite_run_only(settings):
    # The demo always runs on its own embedded SQLite; once per `make test` is enough.
    if settings.DATABASES["default"]["ENGINE"].endswith("postgresql"):
        pytest.skip("the demo uses its own SQLite instance; covered by the SQLite run")


def test_demo_creates_instance_loads_catalogue_and_prints_logins_once(demo_instance, demo_copy):
    """SEC-AUTH-1: generated logins printed once; CAT-1: demo catalogue loaded; rerun reuses."""
    first, home = demo_instance, demo_instance.home
    assert first.returncode == 0, first.stderr
    out = first.stdout
    if (MARC_DIR / "demo_catalogue_utf8.mrc").is_file():
        assert "imported 3063 records: created 3063" in out
    else:
        assert "bundled sample" in out
    # issue 17 item 11: named branches, junk item codes never a branch, patrons to try, mail
    assert "Fjordvik Main Library (MAIN)" in out and "Havnegata Branch (HAVN)" in out
    cards = re.findall(r"^\s+(29\d{10})\s+\S", out, flags=re.M)
    assert len(cards) >= 3 and "(can borrow)" in out
    assert "Mail and text messages" in out
    if (MARC_DIR / "demo_catalogue_utf8.mrc").is_file():
        assert "unknown branch codes: their items are at the main library" in out
    logins = re.findall(r"^\s+(demo-[a-z-]+)\s+(\S+)\s+", out, flags=re.M)
    assert len(logins) >= 6
    passwords = {pw for _, pw in logins}
    assert len(passwords) == len(logins)  # no shared or default password
    assert (home / "master.key").stat().st_mode & 0o077 == 0
    # PRV-LOG-1: the demo says where its mail goes; nothing in the instance is readable by others
    assert f"one file each in {home / 'outgoing'}" in out
    for root, dirs, files in os.walk(home):
        for name in dirs + files:
            path = os.path.join(root, name)
            assert os.stat(path).st_mode & 0o077 == 0, path

    second = run_demo(demo_copy)
    assert second.returncode == 0, second.stderr
    assert "reusing it" in second.stdout
    for pw in passwords:
        assert pw not in second.stdout
    assert "imported" not in second.stdout


def test_demo_with_a_missing_marc_file_is_a_usage_error(tmp_path, on_sqlite_run_only):
    out = run_demo(tmp_path, "--marc", str(tmp_path / "nope.mrc"))
    assert out.returncode == 2
    assert "no such MARC file" in out.stderr
