"""Reads of the patron register.

Staff reads (`patron_detail`, `patron_get`, `patron_search`) check the actor's
branch scope and write audit entries ("viewed", "searched", "denied").
Look-ups without an actor (`patron_by_card_barcode`, `patron_by_email`,
`patron_by_identifier`) are for trusted code only: sign-in, SIP2, loads. They
find a patron through blind indexes, never by decrypting anything.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from django.db import transaction
from django.db.models import Prefetch

from quietshelf.core import clock
from quietshelf.patrons import policy
from quietshelf.patrons.access import PATRON_TYPE, audited_denials, check_patron, scope
from quietshelf.patrons.errors import PatronNotFound
from quietshelf.patrons.models import (
    NAME_SCOPE,
    Block,
    Card,
    ContactKind,
    ContactPoint,
    Patron,
    PatronIdentifier,
    PatronStatus,
    contact_index,
)
from quietshelf.privacy import audit
from quietshelf.privacy.fields import normalize
from quietshelf.privacy.models import AuditEntry
from quietshelf.privacy.search import search_name_tokens

VIEW = "patrons.view_patron"
SEARCH_LIMIT = 50
HISTORY = 50


# --- trusted look-ups (no actor, no audit) -------------------------------------------


def patron_by_card_barcode(barcode: str) -> Patron | None:
    """The patron holding this *active* card, or None."""
    if not barcode or not normalize(barcode, "barcode"):
        return None
    digest = Card._meta.get_field("barcode_index").digest(barcode)
    card = Card.objects.filter(barcode_index=digest, active=True).select_related("patron").first()
    return card.patron if card else None


def patrons_by_email(email: str) -> list[Patron]:
    if not email or "@" not in email:
        return []
    digest = contact_index(ContactKind.EMAIL, email)
    ids = ContactPoint.objects.filter(kind="email", lookup_index=digest).values("patron_id")
    return list(Patron.objects.filter(pk__in=ids))


def patron_by_email(email: str) -> Patron | None:
    """The one patron with this e-mail address; None if none or several share it."""
    found = patrons_by_email(email)
    return found[0] if len(found) == 1 else None


def patron_by_identifier(id_type: str, value: str) -> Patron | None:
    if not value or not normalize(value, "identifier"):
        return None
    digest = PatronIdentifier._meta.get_field("value_index").digest(value)
    ident = (
        PatronIdentifier.objects.filter(type=id_type, value_index=digest)
        .select_related("patron")
        .first()
    )
    return ident.patron if ident else None


def patron_preferred_contact(patron: Patron, kind: str) -> str | None:
    c = patron.contacts.filter(kind=kind).order_by("-preferred", "created_at").first()
    return c.value if c else None


def warm_keys(subject_ids) -> None:
    """Fetch and unwrap many patrons' data keys in one key-store query (lists of patrons)."""
    from quietshelf.privacy import keys

    keys.open_data_keys(subject_ids)


# --- staff reads --------------------------------------------------------------------


def _scoped(qs, actor):
    allowed = scope(actor, VIEW)
    if allowed is None:
        return qs
    return qs.filter(home_branch_id__in=allowed)


def _parse_id(patron_id) -> uuid.UUID:
    try:
        return uuid.UUID(str(patron_id))
    except (ValueError, TypeError):
        raise PatronNotFound("No such patron.") from None


@audited_denials
def patron_get(*, actor, patron_id, audited: bool = True) -> Patron:
    """One patron the actor may see; an audit entry "viewed" unless audited=False."""
    patron = (
        Patron.objects.select_related("group", "home_branch")
        .filter(pk=_parse_id(patron_id))
        .first()
    )
    if patron is None:
        raise PatronNotFound("No such patron.")
    check_patron(actor, patron, VIEW)
    if audited:
        with transaction.atomic():
            audit.record(actor=actor, action="viewed", obj=patron)
    return patron


@dataclass
class PatronDetail:
    patron: Patron
    cards: list = field(default_factory=list)
    identifiers: list = field(default_factory=list)
    contacts: list = field(default_factory=list)
    notes: list = field(default_factory=list)
    blocks: list = field(default_factory=list)
    overrides: list = field(default_factory=list)
    proxies: list = field(default_factory=list)  # links where this patron is the borrower
    acts_for: list = field(default_factory=list)  # links where this patron is the proxy
    effective_blocks: list = field(default_factory=list)
    history: list = field(default_factory=list)  # audit entries about this patron, newest first
    is_minor: bool = False
    age_limit: int = 18
    guardian_access: str = "none"

    @property
    def active_card(self):
        return next((c for c in self.cards if c.active), None)


def patron_detail(*, actor, patron_id) -> PatronDetail:
    """Everything on the patron page, with one "viewed" audit entry."""
    patron = patron_get(actor=actor, patron_id=patron_id)
    blocks = list(Block.objects.filter(patron=patron).select_related("created_by", "lifted_by"))
    today = clock.today()
    return PatronDetail(
        patron=patron,
        cards=list(patron.cards.all()),
        identifiers=list(patron.identifiers.order_by("type")),
        contacts=list(patron.contacts.all()),
        notes=list(patron.notes.select_related("author")),
        blocks=blocks,
        overrides=list(patron.block_overrides.select_related("by")),
        proxies=list(patron.proxy_links.select_related("proxy")),
        acts_for=list(patron.acts_for.select_related("patron")),
        effective_blocks=policy.effective_blocks(patron, blocks, today=today),
        history=list(
            AuditEntry.objects.filter(object_type=PATRON_TYPE, object_id=str(patron.pk)).order_by(
                "-seq"
            )[:HISTORY]
        ),
        is_minor=policy.is_minor(patron.date_of_birth, today=today),
        age_limit=policy.minor_age(),
        guardian_access=policy.guardian_access_rule(),
    )


def patron_blocks(*, actor, patron_id) -> tuple[Patron, list[Block], list]:
    patron = patron_get(actor=actor, patron_id=patron_id)
    blocks = list(Block.objects.filter(patron=patron))
    return patron, blocks, policy.effective_blocks(patron, blocks)


SEARCH_KINDS = ("any", "barcode", "email", "identifier", "name")


def _classify(query: str) -> str:
    if "@" in query:
        return "email"
    if any(ch.isdigit() for ch in query) and " " not in query.strip():
        return "barcode"
    return "name"


def patron_search(
    *, actor, query: str, kind: str = "any", limit: int = SEARCH_LIMIT
) -> list[Patron]:
    """Find patrons by card number, e-mail, identifier (exact) or name (words, last a prefix).

    Scoped to the actor's branches; one audit entry "searched" naming the kind
    of search, never the terms.
    """
    if kind not in SEARCH_KINDS:
        raise ValueError(f"unknown search kind {kind!r}")
    allowed = scope(actor, VIEW)
    if allowed is not None and not allowed:
        from quietshelf.core.errors import PermissionDenied

        raise PermissionDenied("You do not have permission for this.", details={"permission": VIEW})
    query = (query or "").strip()[:200]
    if not query:
        return []
    used = _classify(query) if kind == "any" else kind
    ids: list = []
    if used == "barcode":
        digest = Card._meta.get_field("barcode_index").digest(query)
        ids = list(Card.objects.filter(barcode_index=digest).values_list("patron_id", flat=True))
        if not ids and kind == "any":
            used = "identifier"
    if used == "identifier":
        if normalize(query, "identifier"):
            digest = PatronIdentifier._meta.get_field("value_index").digest(query)
            ids = list(
                PatronIdentifier.objects.filter(value_index=digest).values_list(
                    "patron_id", flat=True
                )
            )
    elif used == "email":
        ids = list(
            ContactPoint.objects.filter(
                kind="email", lookup_index=contact_index("email", query)
            ).values_list("patron_id", flat=True)
        )
    if used == "name":
        subject_ids = search_name_tokens(scope=NAME_SCOPE, query=query, limit=limit * 2)
        qs = Patron.objects.filter(subject_id__in=subject_ids)
    else:
        qs = Patron.objects.filter(pk__in=ids)
    qs = _scoped(qs, actor).select_related("group", "home_branch")
    qs = qs.prefetch_related(Prefetch("cards", queryset=Card.objects.filter(active=True)))
    found = list(qs[: limit * 2])
    warm_keys([p.subject_id for p in found])
    found.sort(key=lambda p: str(p.sort_name).casefold())
    with transaction.atomic():
        audit.record(actor=actor, action="searched", object_type=PATRON_TYPE, reason=f"by {used}")
    return found[:limit]


def groups():
    from quietshelf.patrons.models import PatronGroup

    return list(PatronGroup.objects.all())


# --- the patron's web session (patrons.auth) ---------------------------------------------


def password_hash_of(patron) -> str:
    return patron.password_hash or ""


def patron_for_session(*, patron_id) -> Patron | None:
    """The patron a session names, if the account may still be used on the web."""
    try:
        patron = Patron.objects.select_related("subject").filter(pk=patron_id).first()
    except (ValueError, TypeError):
        return None
    if patron is None or patron.status == PatronStatus.CLOSED:
        return None
    if patron.subject.forgotten_at is not None:
        return None
    return patron
