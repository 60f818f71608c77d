"""Last-borrower escrow (PRV-HIST-4, off by default)."""

from __future__ import annotations

import datetime as dt
import uuid

from django.conf import settings
from django.db import transaction

from quietshelf.accounts.authz import require
from quietshelf.catalog.models import Item
from quietshelf.circulation.services._base import (
    _locked_item,
)
from quietshelf.core import clock
from quietshelf.core.errors import InvalidInput, NotFound
from quietshelf.privacy import audit


def _escrow_cipher():
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    from quietshelf.privacy import keys

    return AESGCM(keys.instance_secret("circulation-last-borrower-escrow"))


def _escrow_days() -> int:
    return max(0, int(getattr(settings, "QUIETSHELF_LAST_BORROWER_ESCROW_DAYS", 0) or 0))


def _escrow_keep(item: Item, patron_id, today: dt.date) -> None:
    import os

    from quietshelf.circulation.models import LastBorrowerEscrow

    nonce = os.urandom(12)
    sealed = nonce + _escrow_cipher().encrypt(
        nonce, uuid.UUID(str(patron_id)).bytes, f"escrow:{item.pk}".encode()
    )
    LastBorrowerEscrow.objects.update_or_create(
        item=item,
        defaults={"sealed": sealed, "expires_on": today + dt.timedelta(days=_escrow_days())},
    )


@transaction.atomic(durable=True)
def escrow_open(*, actor, item_barcode: str, reason: str):
    """The privacy officer opens the sealed last borrower of an item, with a reason.

    The audit entry names the patron (so they see it in My account), never the item.
    """
    from quietshelf.circulation.models import LastBorrowerEscrow
    from quietshelf.patrons.models import Patron

    require(actor, "privacy.view_privacy_office")
    if not (reason or "").strip():
        raise InvalidInput("Give a reason for opening the escrow.", code="reason_required")
    item = _locked_item(item_barcode)
    row = LastBorrowerEscrow.objects.filter(item=item, expires_on__gte=clock.today()).first()
    if row is None:
        raise NotFound("No last borrower is kept for this item.", code="escrow_not_found")
    blob = bytes(row.sealed)
    pid = uuid.UUID(
        bytes=_escrow_cipher().decrypt(blob[:12], blob[12:], f"escrow:{item.pk}".encode())
    )
    patron = Patron.objects.filter(pk=pid).first()
    if patron is None:
        raise NotFound("The last borrower's account no longer exists.", code="escrow_erased")
    audit.record(actor=actor, action="escrow_opened", obj=patron, reason="damage or loss claim")
    return patron


@transaction.atomic(durable=True)
def purge_escrow(*, today: dt.date | None = None) -> int:
    from quietshelf.circulation.models import LastBorrowerEscrow

    today = today or clock.today()
    n, _ = LastBorrowerEscrow.objects.filter(expires_on__lt=today).delete()
    return n
