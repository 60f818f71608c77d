"""The SIP2 server as a real subprocess (`quietshelf sip2`) on this test run's databases.

One server and one set of rows per test module: the rows are committed (the
server is another process) and flushed when the module ends. Each test
takes its own patrons and items from `world`, so tests do not depend on
each other's order. Every person and title here is fictional.
"""

from __future__ import annotations

import datetime as dt
import itertools
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import pytest
from django.contrib.auth.hashers import make_password
from django.db import connection, connections

# The circulation fixtures (branches, rules, patrons, items) for the database-only tests.
from tests.circulation import conftest as _circulation  # noqa: E402

_fresh_config_cache = _circulation._fresh_config_cache
circ = _circulation.circ
item = _circulation.item
patron = _circulation.patron

REPO_ROOT = Path(__file__).resolve().parents[2]
PIN = "4826"
TERMINAL_PASSWORD = "kiosk-password-0001"
_n = itertools.count(1)


def server_env(home: Path, settings, **extra) -> dict:
    """Environment for a `quietshelf` child process that uses this test's databases."""
    from quietshelf.privacy import keys

    keys.load_master_keys()
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUIETSHELF_")}
    env.update(
        {
            "QUIETSHELF_ENV": "test",
            "QUIETSHELF_HOME": str(home),
            "QUIETSHELF_TIME_ZONE": settings.TIME_ZONE,
            "QUIETSHELF_CURRENCY": settings.QUIETSHELF_CURRENCY,
            "PYTHONPATH": str(REPO_ROOT),
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update({k: str(v) for k, v in extra.items()})
    if os.environ.get("QUIETSHELF_MASTER_KEY"):
        env["QUIETSHELF_MASTER_KEY"] = os.environ["QUIETSHELF_MASTER_KEY"]
    else:
        target = home / "master.key"
        shutil.copy(settings.QUIETSHELF_MASTER_KEY_FILE, target)
        target.chmod(0o600)
    main, store = connections["default"].settings_dict, connections["keystore"].settings_dict
    if connection.vendor == "postgresql":

        def url(d):
            auth = d["USER"] + (f":{d['PASSWORD']}" if d.get("PASSWORD") else "")
            return f"postgres://{auth}@{d['HOST'] or '127.0.0.1'}:{d['PORT'] or 5432}/{d['NAME']}"

        env["DATABASE_URL"] = url(main)
        env["QUIETSHELF_KEYSTORE_URL"] = url(store)
    else:
        for name, target in (("quietshelf.sqlite3", main), ("keystore.sqlite3", store)):
            link = home / name
            if not link.exists():
                link.symlink_to(target["NAME"])
    return env


class ServerProcess:
    """`python -m quietshelf sip2 --port 0`, its output collected, its port read from it."""

    def __init__(self, env: dict, *args: str):
        self.env, self.args = env, args
        self.proc: subprocess.Popen | None = None
        self.lines: list[str] = []
        self.port = 0

    def start(self) -> ServerProcess:
        self.lines = []
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "quietshelf", "sip2", "--port", "0", *self.args],
            env=self.env,
            cwd=REPO_ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        threading.Thread(target=lambda: self.lines.extend(self.proc.stdout), daemon=True).start()
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            found = [re.search(r"listening on [^ ]+:(\d+)", x) for x in self.lines]
            found = [m for m in found if m]
            if found:
                self.port = int(found[0].group(1))
                return self
            if self.proc.poll() is not None:
                time.sleep(0.2)
                raise AssertionError("the SIP2 server did not start:\n" + "".join(self.lines))
            time.sleep(0.05)
        raise AssertionError("the SIP2 server did not start in time:\n" + "".join(self.lines))

    def stop(self, sig=signal.SIGTERM) -> int:
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else 0
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()

    def output(self) -> str:
        return "".join(self.lines)


class World:
    """This test's committed rows and helpers to make more, plus the module's server."""

    pin_hash = ""
    terminal_hash = ""

    def __init__(self, server):
        self.server = server
        cls = type(self)
        if not cls.pin_hash:
            # Argon2id costs most of a second here: hash once, reuse for every row.
            cls.pin_hash = make_password(PIN)
            cls.terminal_hash = make_password(TERMINAL_PASSWORD)

    @contextmanager
    def db(self):
        yield

    def setup(self):
        from quietshelf.circulation import services as circ_services
        from quietshelf.patrons.models import PatronGroup
        from quietshelf.sip2.models import Terminal
        from tests.factories import BranchFactory, ItemTypeFactory

        circ_services.config_changed()
        self.north = BranchFactory(code="SNORTH", name="North")
        self.south = BranchFactory(code="SSOUTH", name="South")
        self.book = ItemTypeFactory(code="BOOK", name="Book")
        self.group = PatronGroup.objects.get_or_create(code="adult", defaults={"name": "Adult"})[0]
        circ_services.rule_save(
            actor=None,
            loan_period=21,
            renewals_allowed=2,
            fine_per_day_minor=500,
            grace_days=0,
            max_fine_minor=5000,
            fines_open_days_only=False,
            max_loans=50,
            hold_limit=5,
        )
        rest = {"password_hash": self.terminal_hash}
        self.kiosk = Terminal.objects.create(name="kiosk1", branch=self.north, **rest)
        self.sorter = Terminal.objects.create(
            name="sorter1",
            branch=self.north,
            allowed_messages="09,17",
            require_pin=False,
            patron_name="none",
            **rest,
        )
        self.full = Terminal.objects.create(
            name="kiosk-full", branch=self.south, patron_name="full", send_titles=True, **rest
        )
        self.nopin = Terminal.objects.create(
            name="staffed1", branch=self.north, require_pin=False, **rest
        )
        return self

    def patron(self, *, pin: bool = True, **kw):
        from quietshelf.patrons import services as patron_services
        from quietshelf.patrons.models import Patron

        n = next(_n)
        kw.setdefault("given_name", f"Ingrid{n}")
        kw.setdefault("family_name", f"Solbakken{n}")
        kw.setdefault("barcode", f"2900{n:08d}")
        kw.setdefault("group", self.group)
        kw.setdefault("home_branch", self.north)
        patron = patron_services.patron_register(actor=None, **kw)
        if pin:
            Patron.objects.filter(pk=patron.pk).update(pin_hash=self.pin_hash)
        patron.card = kw["barcode"]
        return patron

    def item(self, branch: str = "north", **kw):
        from tests.factories import BibRecordFactory, ItemFactory

        kw.setdefault("barcode", f"3950{next(_n):08d}")
        kw.setdefault("record", BibRecordFactory(title=f"A made-up book {next(_n)}"))
        return ItemFactory(branch=getattr(self, branch), item_type=self.book, **kw)

    def lend(self, patron, item, branch=None, days_ago: int = 2):
        """A loan made at the desk (the system) `days_ago` days back, for renew and check-in
        tests: a loan made this minute may not be renewed yet ("too soon", CIR-2)."""
        from django.db.models import F

        from quietshelf.circulation import services as circ_services
        from quietshelf.circulation.models import Loan

        result = circ_services.checkout(
            actor=None,
            item_barcode=item.barcode,
            patron_id=patron.pk,
            branch_id=(branch or self.north).pk,
        )
        Loan.objects.filter(pk=result.loan.pk).update(
            due_at=F("due_at") - dt.timedelta(days=days_ago)
        )
        return result


@pytest.fixture(scope="module")
def sip2_home(tmp_path_factory):
    return tmp_path_factory.mktemp("sip2home")


@pytest.fixture(scope="module")
def sip2_server(django_db_setup, django_db_blocker, sip2_home):
    """One server per test module; QUIETSHELF_CIRC_CONFIG_CACHE_SECONDS=0 because every
    test flushes and makes its rules and branches anew."""
    from django.conf import settings

    from quietshelf.privacy import keys
    from quietshelf.privacy.models import WrappedSecret

    with django_db_blocker.unblock():
        env = server_env(sip2_home, settings, QUIETSHELF_CIRC_CONFIG_CACHE_SECONDS=0)
        # The instance secrets (blind-index root...) both processes cache: made once here
        # and put back after every test's flush, so the two processes keep agreeing.
        keys.reset_caches()  # a secret cached from a rolled-back test has no row
        keys.instance_secret("blind-index-root")
        secrets = list(WrappedSecret.objects.using("keystore").all())
    server = ServerProcess(env).start()
    server.env = env
    server.secrets = secrets
    yield server
    server.stop()


@pytest.fixture
def world(transactional_db, sip2_server):
    from quietshelf.privacy.models import WrappedSecret

    WrappedSecret.objects.using("keystore").bulk_create(sip2_server.secrets, ignore_conflicts=True)
    if sip2_server.proc.poll() is not None:  # a test killed it: start another
        sip2_server.start()
    return World(sip2_server).setup()
