"""A live worker keeps its claim (CIR-5): a batch that takes longer to send than the claim
timeout is not taken back and sent again by the next run.

Real threads with their own database connections and a real (slow) SMTP server on loopback.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import threading
import time
from collections import Counter

import pytest
from django.db import connections
from django.utils import timezone

from quietshelf.notices import services
from quietshelf.notices.models import Notice
from tests.notices.conftest import TODAY, Inbox, free_port, point_django_at

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


class SlowInbox(Inbox):
    """Takes 0.6 s per message before it says 250 (a slow relay)."""

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd hook
        await asyncio.sleep(0.6)
        return await super().handle_DATA(server, session, envelope)


def test_cir5_batch_slower_than_the_claim_timeout_is_not_sent_twice(settings, reader, loan):
    """Review 7: 8 notices at 0.6 s each (4.8 s) with a 2 s claim timeout; a second run
    starts 3 s in. Before the fix it took back the 4 unsent ones (claim stamped once per
    batch) and the first worker sent them too: 12 messages, 4 duplicates."""
    from aiosmtpd.controller import Controller

    settings.QUIETSHELF_NOTICE_CLAIM_TIMEOUT_SECONDS = 2
    for _ in range(8):
        loan(reader(), TODAY + dt.timedelta(days=2))
    assert services.queue_due_soon_notices(today=TODAY) == 8
    inbox = SlowInbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    point_django_at(settings, port)
    results: list = []
    errors: list = []

    def run():
        try:
            results.append(services.deliver_queued_notices(limit=100))
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)
        finally:
            connections.close_all()

    first = threading.Thread(target=run)
    first.start()
    # Wait until the first worker is mid-batch with its claim older than the 2 s timeout:
    # four messages at 0.6 s each have gone, the other four have not.
    deadline = time.monotonic() + 60
    while len(inbox.messages) < 4 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert 4 <= len(inbox.messages) < 8, "the first worker did not reach mid-batch"
    second = threading.Thread(target=run)
    second.start()
    first.join(60)
    second.join(60)
    controller.stop()
    assert errors == []
    ids = Counter(inbox.ids())
    assert {k: v for k, v in ids.items() if v > 1} == {}
    assert len(inbox.messages) == 8
    assert sum(results) == 8
    assert set(Notice.objects.values_list("state", flat=True)) == {"sent"}


def test_cir5_a_notice_taken_back_mid_batch_is_skipped_by_the_old_holder(smtp, reader, loan):
    """If the claim on a notice was lost anyway (taken back, given to another worker), the
    old holder re-checks before sending and leaves it to the new one."""
    for _ in range(3):
        loan(reader(), TODAY + dt.timedelta(days=2))
    services.queue_due_soon_notices(today=TODAY)
    batch = services._claim("old-worker", timezone.now(), 10)
    lost = batch[1]
    Notice.objects.filter(pk=lost.pk).update(claimed_by="new-worker")
    claim = services._Claim("old-worker", [n.pk for n in batch], stamped=0.0)  # stale stamp
    assert claim.holds(batch[0].pk)
    assert not claim.holds(lost.pk)
    assert claim.holds(batch[2].pk)


def test_claims_racing_from_many_threads_share_nothing_and_miss_nothing_cir5(reader, loan):
    """CIR-5: workers claiming at the same moment, each on its own connection, take
    disjoint notices, and none mistakes a race for an empty queue: together they take
    every queued notice."""
    from django.utils import timezone

    from quietshelf.notices import services

    for _ in range(24):
        loan(reader(), TODAY + dt.timedelta(days=2))
    assert services.queue_due_soon_notices(today=TODAY) == 24
    now = timezone.now()
    start = threading.Barrier(4)
    taken: dict = {}
    errors: list = []

    def claim(name: str) -> None:
        try:
            start.wait(10)
            mine = []
            while batch := services._claim(name, now, 2):
                mine += [n.pk for n in batch]
            taken[name] = mine
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(repr(exc))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=claim, args=(f"w{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    every = [pk for pks in taken.values() for pk in pks]
    assert len(every) == len(set(every)) == 24
    assert set(Notice.objects.values_list("state", flat=True)) == {"sending"}
