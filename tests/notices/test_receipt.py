"""Desk e-mail receipt (CIR-5, PRV-NOT-1): a count and due dates, never titles or barcodes."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core import mail

from quietshelf.accounts.testing import make_staff
from quietshelf.core.errors import InvalidInput, PermissionDenied
from quietshelf.notices import services
from quietshelf.notices.models import Notice
from quietshelf.privacy.models import AuditEntry
from tests.factories import BibRecordFactory
from tests.notices.conftest import TODAY


def test_receipt_lists_count_and_due_dates_only_and_is_sent_once_prv_not_1(reader, loan):
    desk = make_staff("desk-receipt", roles=["circulation-desk"])
    p = reader(barcode="230055550001")
    a = loan(p, TODAY + dt.timedelta(days=3), record=BibRecordFactory(title="Saltmarsh Hours"))
    b = loan(p, TODAY + dt.timedelta(days=17))
    notice = services.send_checkout_receipt(actor=desk, patron_id=p.pk, loan_ids=[a.pk, b.pk])
    again = services.send_checkout_receipt(actor=desk, patron_id=p.pk, loan_ids=[b.pk, a.pk])
    assert again.pk == notice.pk
    assert (
        AuditEntry.objects.filter(object_id=str(notice.pk), reason="checkout_receipt").count() == 1
    )
    assert services.deliver_queued_notices() == 1
    [message] = mail.outbox
    assert message.subject == "Your loans"
    assert "You borrowed 2 items. Due: 5 March, 19 March." in message.body
    for secret in ("Saltmarsh", "230055550001", a.item.barcode, b.item.barcode):
        assert secret not in message.body


def test_receipt_needs_the_desk_permission_and_the_patrons_own_open_loans_cir5(reader, loan):
    p, other = reader(), reader()
    mine = loan(p, TODAY + dt.timedelta(days=3))
    theirs = loan(other, TODAY + dt.timedelta(days=3))
    cataloguer = make_staff("cat-receipt", roles=["cataloguer"])
    with pytest.raises(PermissionDenied):
        services.send_checkout_receipt(actor=cataloguer, patron_id=p.pk, loan_ids=[mine.pk])
    desk = make_staff("desk-receipt2", roles=["circulation-desk"])
    with pytest.raises(InvalidInput):
        services.send_checkout_receipt(actor=desk, patron_id=p.pk, loan_ids=[mine.pk, theirs.pk])
    with pytest.raises(InvalidInput):
        services.send_checkout_receipt(actor=desk, patron_id=p.pk, loan_ids=["not-a-uuid"])
    assert not Notice.objects.exists()
