"""Two workers at once, and a worker killed mid-run (CIR-5: nothing twice, nothing lost).

Real threads with their own database connections; a real process killed with
SIGKILL while it is sending to a real SMTP server on loopback.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter

import pytest
import time_machine
from django.conf import settings as django_settings
from django.utils import timezone

from quietshelf.notices import services
from quietshelf.notices.models import Notice
from tests.notices.conftest import TODAY, Inbox


@pytest.fixture
def committed(transactional_db):
    """Rows the other threads and processes can see (no wrapping test transaction)."""
    return True


def _queue_many(reader, loan, n: int) -> None:
    for _ in range(n):
        loan(reader(), TODAY + dt.timedelta(days=2))
    assert services.queue_due_soon_notices(today=TODAY) == n


def test_two_workers_at_once_send_each_notice_exactly_once_cir5(committed, smtp, reader, loan):
    _queue_many(reader, loan, 30)
    barrier = threading.Barrier(2)
    results, errors = [], []

    def worker():
        from django.db import connections

        try:
            barrier.wait(timeout=10)
            results.append(services.deliver_queued_notices(limit=1000))
        except Exception as exc:  # noqa: BLE001 - reported in the assertion
            errors.append(repr(exc))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    assert sum(results) == 30
    ids = Counter(smtp.ids())
    assert len(ids) == 30 and set(ids.values()) == {1}
    assert set(Notice.objects.values_list("state", flat=True)) == {"sent"}


def test_two_queue_runs_at_once_queue_each_notice_once_cir5(committed, reader, loan):
    for _ in range(20):
        loan(reader(), TODAY + dt.timedelta(days=2))
    barrier = threading.Barrier(2)
    results, errors = [], []

    def run():
        from django.db import connections

        try:
            barrier.wait(timeout=10)
            results.append(services.queue_due_soon_notices(today=TODAY))
        except Exception as exc:  # noqa: BLE001
            errors.append(repr(exc))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    assert sum(results) == 20
    assert Notice.objects.count() == 20


def test_stale_claim_of_a_dead_worker_is_taken_over_after_the_timeout_cir5(smtp, reader, loan):
    _queue_many(reader, loan, 3)
    claimed = services._claim("dead-worker", timezone.now(), 10)  # then the worker died
    assert len(claimed) == 3
    assert services.deliver_queued_notices() == 0  # still claimed: not sent by anyone else
    later = timezone.now() + dt.timedelta(seconds=901)
    with time_machine.travel(later, tick=True):
        assert services.deliver_queued_notices() == 3
    assert len(smtp.messages) == 3


class SlowInbox(Inbox):
    """Records each message on arrival, then takes its time to say 250."""

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        import email

        with self._cond:
            self.messages.append(
                (list(envelope.rcpt_tos), email.message_from_bytes(envelope.content))
            )
            self._cond.notify_all()
        await asyncio.sleep(0.15)
        return "250 OK"


def _database_url(alias: str) -> str:
    db = django_settings.DATABASES[alias]
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    user = db.get("USER") or "postgres"
    return (
        f"postgres://{user}@{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}/{db['NAME']}"
    )


def test_worker_killed_mid_run_restart_sends_nothing_twice_but_the_one_in_flight_cir5(
    committed, settings, reader, loan
):
    """SIGKILL while sending. After the claim timeout a new run sends the rest; at most the
    message that was in flight goes twice (at least once), with the same Message-ID."""
    from aiosmtpd.controller import Controller

    from tests.notices.conftest import free_port

    _queue_many(reader, loan, 12)
    inbox = SlowInbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    env = {
        **os.environ,
        "DATABASE_URL": _database_url("default"),
        "QUIETSHELF_KEYSTORE_URL": _database_url("keystore"),
        "QUIETSHELF_SMTP_HOST": "127.0.0.1",
        "QUIETSHELF_SMTP_PORT": str(port),
        "QUIETSHELF_SMTP_STARTTLS": "false",
        "QUIETSHELF_MAIL_FROM": "library@fjordvik.example",
        "QUIETSHELF_SMS_GATEWAY": "none",
        "DJANGO_SETTINGS_MODULE": "quietshelf.config.settings",
    }
    script = (
        "import django; django.setup()\n"
        "from quietshelf.notices.services import deliver_queued_notices\n"
        "deliver_queued_notices(limit=1000)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", script], env=env)  # noqa: S603
    try:
        deadline = time.monotonic() + 60
        while len(inbox.messages) < 4 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert len(inbox.messages) >= 4, "the worker did not start sending"
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        states = Counter(Notice.objects.values_list("state", "accepted"))
        # killed mid-batch: what the server took is recorded per message, the rest is held
        assert states[("sending", False)] > 0 and states[("sending", True)] >= 3
        from tests.notices.conftest import point_django_at

        point_django_at(settings, port)
        later = timezone.now() + dt.timedelta(seconds=901)
        with time_machine.travel(later, tick=True):
            services.deliver_queued_notices(limit=1000)
    finally:
        controller.stop()
        if proc.poll() is None:
            proc.kill()
    ids = Counter(inbox.ids())
    expected = {
        f"<notice-{pk}@fjordvik.example>" for pk in Notice.objects.values_list("pk", flat=True)
    }
    assert set(ids) == expected  # nothing lost
    assert sum(ids.values()) - len(ids) <= 1  # at most the one in flight went twice
    assert set(Notice.objects.values_list("state", flat=True)) == {"sent"}
