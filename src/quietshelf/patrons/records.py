"""The rows a registration, a change of card or contact, and a patron load write the same
way: card numbers (checked free, never reissued: SEC-ID-1), preferred contact points and
the name's blind-index tokens. Used inside the caller's transaction by patrons.services
and patrons.loads; opens none of its own (a savepoint at most)."""

from __future__ import annotations

from django.db import IntegrityError, transaction

from quietshelf.core.errors import InvalidInput
from quietshelf.patrons import policy
from quietshelf.patrons.errors import DuplicateBarcode
from quietshelf.patrons.models import (
    NAME_SCOPE,
    Card,
    ContactKind,
    ContactLabel,
    ContactPoint,
    Patron,
    RetiredIdentifier,
)
from quietshelf.privacy.fields import normalize
from quietshelf.privacy.search import index_name_tokens


def clean_barcode(barcode: str) -> str:
    raw = str(barcode or "").strip()
    if not raw:
        raise InvalidInput("Enter a card number.", code="invalid_barcode")
    if len(raw) > 64 or not normalize(raw, "barcode"):
        raise InvalidInput(
            "A card number has letters and digits only (at most 64 characters).",
            code="invalid_barcode",
        )
    return raw


def barcode_digest(barcode: str) -> str:
    return Card._meta.get_field("barcode_index").digest(barcode)


def ensure_barcode_free(barcode: str) -> str:
    digest = barcode_digest(barcode)
    if Card.objects.filter(barcode_index=digest, active=True).exists():
        raise DuplicateBarcode("This card number is already in use.")
    if (
        Card.objects.filter(barcode_index=digest).exists()
        or RetiredIdentifier.objects.filter(kind="card", digest=digest).exists()
    ):
        raise DuplicateBarcode(
            "This card number was used before and is never issued again (SEC-ID-1)."
        )
    return digest


def new_card(patron: Patron, barcode: str) -> Card:
    barcode = clean_barcode(barcode)
    ensure_barcode_free(barcode)
    try:
        with transaction.atomic():
            return Card.objects.create(
                patron=patron, subject_id=patron.subject_id, barcode=barcode, active=True
            )
    except IntegrityError:
        raise DuplicateBarcode("This card number is already in use.") from None


def retire_card(card: Card) -> None:
    RetiredIdentifier.objects.get_or_create(kind="card", digest=card.barcode_index)


def set_contact(patron: Patron, kind: str, value) -> None:
    """Replace the preferred contact point of this kind ("" or None removes it)."""
    current = patron.contacts.filter(kind=kind).order_by("-preferred", "created_at").first()
    if value in (None, ""):
        if current is not None:
            current.delete()
        return
    value = policy.clean_contact(kind, value)
    if current is None:
        ContactPoint.objects.create(
            patron=patron,
            subject_id=patron.subject_id,
            kind=kind,
            label=ContactLabel.MOBILE if kind == ContactKind.PHONE else ContactLabel.HOME,
            value=value,
            preferred=True,
        )
    elif current.value != value:
        current.value = value
        current.save()


def index_name(patron: Patron) -> None:
    text = f"{patron.given_name or ''} {patron.family_name or ''}"
    index_name_tokens(subject_id=patron.subject_id, scope=NAME_SCOPE, text=text)
