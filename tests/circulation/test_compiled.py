"""Check-out's and check-in's hottest reads run SQL compiled once (PERF-CIRC-2).

The compiled statement must be the very statement Django builds for the same
arguments, and must give the same rows, locks included.
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from quietshelf.circulation import services
from quietshelf.circulation.services import _base as base
from quietshelf.circulation.services import loans

pytestmark = pytest.mark.django_db(databases="__all__")


def _django_first(qs):
    return (qs if qs.ordered else qs.order_by("pk")).first()


def test_compiled_reads_send_djangos_statement_and_rows_perf_circ2(circ, patron, item):
    """PERF-CIRC-2: the locked item, the check-out patron row and the check-in loan
    read through compiled.Template equal Django's own query: same SQL, same
    parameters, same fields, related objects and annotations."""
    p = patron()
    i = item()
    services.checkout(
        actor=None, item_barcode=i.barcode, patron_id=p.pk, branch_id=circ["north"].pk
    )
    today = timezone.localdate()
    start = timezone.make_aware(dt.datetime.combine(today, dt.time()))
    related = ("item_type", "record", "branch")
    cases = [
        (
            base._item_template(related).first,
            (i.barcode,),
            lambda: base._for_update(base._item_rows(related).filter(barcode=i.barcode)),
        ),
        (
            loans._CHECKOUT_PATRON.first,
            (p.pk, start),
            lambda: loans._checkout_patron_rows(p.pk, start),
        ),
        (
            loans._CHECKIN_LOAN.first,
            (i.pk,),
            lambda: loans._checkin_loan_rows(i.pk),
        ),
    ]
    for compiled_first, args, build in cases:
        with transaction.atomic():
            with CaptureQueriesContext(connection) as ours:
                mine = compiled_first(*args)
            with CaptureQueriesContext(connection) as theirs:
                django = _django_first(build())
        assert [q["sql"] for q in ours] == [q["sql"] for q in theirs]
        assert mine is not None and mine.pk == django.pk
        assert mine.__dict__.keys() == django.__dict__.keys()
        for key, value in list(django.__dict__.items()):
            if key != "_state":
                assert type(mine.__dict__[key]) is type(value), key
                assert getattr(mine, key) == getattr(django, key), key
        for name in django._state.fields_cache:
            assert getattr(mine, name).pk == getattr(django, name).pk
    loan = loans._CHECKIN_LOAN.first(i.pk)
    assert loan.fees_exist is False and loan.rule_id == circ["rule"].pk
    assert base._item_template(related).first("no-such-barcode") is None
    with pytest.raises(services.PatronNotFound):
        loans._checkout_patron("not-a-uuid", today=today)
