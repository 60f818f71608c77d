"""Weeding candidates (RPT-1): items not circulated since a date, from the day of
last activity kept on the item (never from loans)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from quietshelf.accounts.testing import signed_in_client
from quietshelf.catalog.models import Item
from quietshelf.circulation import services as circ_services

pytestmark = pytest.mark.django_db(databases="__all__")


def test_weeding_candidates_by_last_activity_on_the_item_rpt_1(circ, item, patron, reader):
    lent_now = item(call_number="A 1")
    circ_services.checkout(
        actor=None, item_barcode=lent_now.barcode, patron_id=patron().pk,
        branch_id=circ["north"].pk,
    )  # fmt: skip
    stale = item(call_number="B 2")
    never_old = item(call_number="C 3")
    never_new = item(call_number="D 4")
    gone = item(call_number="E 5", status="withdrawn")
    long_ago = timezone.now() - dt.timedelta(days=2000)
    Item.objects.filter(pk=stale.pk).update(last_activity_on=dt.date(2020, 5, 1))
    Item.objects.filter(pk__in=[never_old.pk, gone.pk]).update(created_at=long_ago)
    client = signed_in_client(reader)
    r = client.get("/staff/reports/weeding/", {"before": "2024-01-01"})
    assert r.status_code == 200
    body = r.content.decode()
    assert never_old.barcode in body and stale.barcode in body
    assert lent_now.barcode not in body and never_new.barcode not in body
    assert gone.barcode not in body
    assert body.index(never_old.barcode) < body.index(stale.barcode)  # never lent first
    csv = client.get("/staff/reports/weeding/csv/", {"before": "2024-01-01"})
    lines = csv.content.decode().splitlines()
    assert lines[0].startswith("Branch,Call number,Title,Item barcode")
    assert lines[2].endswith(",2020-05-01")
    assert client.get("/staff/reports/weeding/", {"before": "2999-01-01"}).status_code == 400
    assert client.get("/staff/reports/weeding/", {"before": "soon"}).status_code == 400
