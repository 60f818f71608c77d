"""Every state change of the patron register: authorisation first, an audit entry always.

`actor` is a StaffUser (checked with accounts.authz in the patron's home
branch), None (the system) or a privacy.audit.Actor from trusted code (the
patron on their own record, self-registration); see access.py.
"""

from __future__ import annotations

import uuid

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.functional import LazyObject, empty

from quietshelf.catalog.models import Branch
from quietshelf.core import clock
from quietshelf.core.errors import Conflict, InvalidInput, NotFound
from quietshelf.patrons import policy, records, retention
from quietshelf.patrons.access import audited_denials, check_patron, require
from quietshelf.patrons.errors import (
    DuplicateIdentifier,
    MissingRequired,
    NoteNeedsConfirmation,
    PatronNotFound,
)
from quietshelf.patrons.models import (
    Block,
    BlockOverride,
    BlockReason,
    Card,
    ContactKind,
    ContactLabel,
    ContactPoint,
    IdentifierType,
    Language,
    NotificationChannel,
    Patron,
    PatronGroup,
    PatronIdentifier,
    PatronStatus,
    ProxyKind,
    ProxyLink,
    StaffNote,
)

# card numbers as other apps and the portal read them (patrons.records)
from quietshelf.patrons.records import barcode_digest, clean_barcode  # noqa: F401
from quietshelf.privacy import audit
from quietshelf.privacy import retention as retention_engine
from quietshelf.privacy.fields import normalize

UNSET = object()
MAX_NOTE = 4000


# --- helpers ------------------------------------------------------------------------


def _staff(actor):
    """The StaffUser to store as author (None for the system or a patron)."""
    if isinstance(actor, LazyObject):  # request.user
        if actor._wrapped is empty:
            actor._setup()
        actor = actor._wrapped
    return actor if getattr(actor, "is_authenticated", False) and hasattr(actor, "pk") else None


def identifier_digest(value: str) -> str:
    return PatronIdentifier._meta.get_field("value_index").digest(value)


def clean_identifier(id_type: str, value: str) -> tuple[str, str]:
    if id_type not in IdentifierType.values:
        raise InvalidInput(f"Unknown identifier type {id_type!r}.", code="invalid_identifier")
    raw = str(value or "").strip()
    if not raw or len(raw) > 100 or not normalize(raw, "identifier"):
        raise InvalidInput(
            "An identifier has letters and digits (at most 100 characters).",
            code="invalid_identifier",
        )
    return id_type, raw


def _ensure_identifier_free(id_type: str, value: str) -> None:
    if PatronIdentifier.objects.filter(type=id_type, value_index=identifier_digest(value)).exists():
        raise DuplicateIdentifier("Another patron already has this identifier.")


def _group(group) -> PatronGroup | None:
    if group in (None, ""):
        return None
    if isinstance(group, PatronGroup):
        return group
    found = PatronGroup.objects.filter(code=str(group)).first()
    if found is None:
        raise InvalidInput(f"Unknown patron group {group!r}.", code="invalid_group")
    return found


def _branch(branch) -> Branch | None:
    if branch in (None, ""):
        return None
    if isinstance(branch, Branch):
        return branch
    if isinstance(branch, int) or str(branch).isdigit():
        found = Branch.objects.filter(pk=int(branch)).first()
    else:
        found = Branch.objects.filter(code=str(branch)).first()
    if found is None:
        raise InvalidInput("Unknown branch.", code="invalid_branch")
    return found


def _locked_patron(actor, patron_id, perm: str) -> Patron:
    try:
        pid = uuid.UUID(str(patron_id))
    except (ValueError, TypeError):
        raise PatronNotFound("No such patron.") from None
    patron = Patron.objects.select_for_update().filter(pk=pid).first()
    if patron is None:
        raise PatronNotFound("No such patron.")
    check_patron(actor, patron, perm)
    return patron


def _new_identifier(patron: Patron, id_type: str, value: str) -> PatronIdentifier:
    id_type, value = clean_identifier(id_type, value)
    _ensure_identifier_free(id_type, value)
    try:
        with transaction.atomic():
            return PatronIdentifier.objects.create(
                patron=patron, subject_id=patron.subject_id, type=id_type, value=value
            )
    except IntegrityError:
        raise DuplicateIdentifier("Another patron already has this identifier.") from None


# --- registration and changes ----------------------------------------------------


@audited_denials
@transaction.atomic(durable=True)
def patron_register(*, actor, **fields) -> Patron:
    """A new patron. A name and one identifier (card number or identifier) are required.
    The fields are `_patron_register`'s keywords (names, card, contact points, group …)."""
    return _patron_register(actor=actor, **fields)


@audited_denials
def patron_register_in_transaction(*, actor, **fields) -> Patron:
    """patron_register in the caller's transaction: a self-registration (portal) and a sign-in by
    SSO make the patron together with what goes with it."""
    return _patron_register(actor=actor, **fields)


def _patron_register(
    *,
    actor,
    given_name: str = "",
    family_name: str = "",
    barcode: str = "",
    identifiers: list[tuple[str, str]] | tuple = (),
    group=None,
    home_branch=None,
    email: str = "",
    phone: str = "",
    address: str = "",
    date_of_birth=None,
    preferred_language: str = "",
    notification_channel: str = "",
    expiry_date=None,
    erase_after=None,
    status: str = PatronStatus.ACTIVE,
    password: str | None = None,
) -> Patron:
    branch = _branch(home_branch)
    require(actor, "patrons.change_patron", branch_id=branch.pk if branch else None)
    given_name = policy.clean_name(given_name, "given name")
    family_name = policy.clean_name(family_name, "family name")
    if not (given_name or family_name):
        raise MissingRequired("A name is required.")
    identifiers = [clean_identifier(t, v) for t, v in identifiers if str(v or "").strip()]
    if not str(barcode or "").strip() and not identifiers:
        raise MissingRequired("A card number or another identifier is required.")
    patron = Patron(
        given_name=given_name or None,
        family_name=family_name or None,
        group=_group(group),
        home_branch=branch,
        status=policy.clean_choice(status, PatronStatus, "status", PatronStatus.ACTIVE),
        expiry_date=policy.clean_date(expiry_date, "expiry date"),
        erase_after=policy.clean_date(erase_after, "date for erasure"),
        preferred_language=policy.clean_choice(preferred_language, Language, "language"),
        notification_channel=policy.clean_choice(
            notification_channel, NotificationChannel, "notification channel", "email"
        ),
        date_of_birth=policy.clean_date_of_birth(date_of_birth),
    )
    if patron.status == PatronStatus.ACTIVE and policy.needs_guardian_consent(patron.date_of_birth):
        patron.status = PatronStatus.PENDING  # PRV-MNR-1: waits for a guardian's consent
    patron.expiry_date = policy.expiry_from_group(
        expiry=patron.expiry_date,
        validity_days=patron.group.default_validity_days if patron.group else None,
        today=clock.today(),
    )
    if password:
        patron.set_password(password)
    patron.save()
    if str(barcode or "").strip():
        records.new_card(patron, barcode)
    for id_type, value in identifiers:
        _new_identifier(patron, id_type, value)
    for kind, value in (("email", email), ("phone", phone), ("address", address)):
        if value:
            records.set_contact(patron, kind, value)
    records.index_name(patron)
    audit.record(actor=actor, action="created", obj=patron)
    return patron


PATRON_FIELDS = (
    "given_name",
    "family_name",
    "group",
    "home_branch",
    "status",
    "expiry_date",
    "erase_after",
    "preferred_language",
    "notification_channel",
    "date_of_birth",
)


@audited_denials
@transaction.atomic(durable=True)
def patron_update(*, actor, patron_id, **changes) -> Patron:
    """Change core fields (PATRON_FIELDS). Only the fields given are touched."""
    return _patron_update(actor=actor, patron_id=patron_id, **changes)


@audited_denials
def patron_update_in_transaction(*, actor, patron_id, **changes) -> Patron:
    """patron_update in the caller's transaction: a sign-in by SSO updates the patron together with
    linking the account."""
    return _patron_update(actor=actor, patron_id=patron_id, **changes)


def _patron_update(*, actor, patron_id, **changes) -> Patron:
    unknown = set(changes) - set(PATRON_FIELDS)
    if unknown:
        raise InvalidInput(f"Unknown patron fields: {', '.join(sorted(unknown))}.")
    patron = _locked_patron(actor, patron_id, "patrons.change_patron")
    changed: list[str] = []

    def put(name, value):
        if getattr(patron, name) != value:
            setattr(patron, name, value)
            changed.append(name)

    if "given_name" in changes or "family_name" in changes:
        given = policy.clean_name(changes.get("given_name", patron.given_name), "given name")
        family = policy.clean_name(changes.get("family_name", patron.family_name), "family name")
        if not (given or family):
            raise MissingRequired("A name is required.")
        put("given_name", given or None)
        put("family_name", family or None)
    if "group" in changes:
        group = _group(changes["group"])
        if patron.group_id != (group.pk if group else None):
            patron.group = group
            changed.append("group")
    if "home_branch" in changes:
        branch = _branch(changes["home_branch"])
        new_id = branch.pk if branch else None
        if patron.home_branch_id != new_id:
            # moving a patron needs the permission at the new branch too
            require(actor, "patrons.change_patron", branch_id=new_id)
            patron.home_branch = branch
            changed.append("home_branch")
    if "status" in changes:
        put(
            "status",
            policy.clean_choice(changes["status"], PatronStatus, "status", PatronStatus.ACTIVE),
        )
    if "expiry_date" in changes:
        put("expiry_date", policy.clean_date(changes["expiry_date"], "expiry date"))
    if "erase_after" in changes:
        put("erase_after", policy.clean_date(changes["erase_after"], "date for erasure"))
    if "preferred_language" in changes:
        put(
            "preferred_language",
            policy.clean_choice(changes["preferred_language"], Language, "language"),
        )
    if "notification_channel" in changes:
        put(
            "notification_channel",
            policy.clean_choice(
                changes["notification_channel"],
                NotificationChannel,
                "notification channel",
                "email",
            ),
        )
    if "date_of_birth" in changes:
        put("date_of_birth", policy.clean_date_of_birth(changes["date_of_birth"]))
    if changed:
        patron.save()
        if {"given_name", "family_name"} & set(changed):
            records.index_name(patron)
        audit.record(actor=actor, action="changed", obj=patron, reason=",".join(changed)[:200])
    return patron


@audited_denials
@transaction.atomic(durable=True)
def patron_update_contact(*, actor, patron_id, email=UNSET, phone=UNSET, address=UNSET) -> Patron:
    """Set (or with "" remove) the patron's preferred e-mail, phone and address."""
    return _patron_update_contact(
        actor=actor, patron_id=patron_id, email=email, phone=phone, address=address
    )


@audited_denials
def patron_update_contact_in_transaction(
    *, actor, patron_id, email=UNSET, phone=UNSET, address=UNSET
) -> Patron:
    """patron_update_contact in the caller's transaction: a sign-in by SSO updates the contact
    points together with linking the account."""
    return _patron_update_contact(
        actor=actor, patron_id=patron_id, email=email, phone=phone, address=address
    )


def _patron_update_contact(*, actor, patron_id, email=UNSET, phone=UNSET, address=UNSET) -> Patron:
    patron = _locked_patron(actor, patron_id, "patrons.change_patron")
    changed = []
    for kind, value in (("email", email), ("phone", phone), ("address", address)):
        if value is not UNSET:
            records.set_contact(patron, kind, value)
            changed.append(kind)
    if changed:
        audit.record(
            actor=actor, action="changed", obj=patron, reason="contact:" + ",".join(changed)
        )
    return patron


@audited_denials
@transaction.atomic(durable=True)
def contact_add(
    *, actor, patron_id, kind: str, value: str, label: str = "home", preferred: bool = False
) -> ContactPoint:
    patron = _locked_patron(actor, patron_id, "patrons.change_patron")
    kind = policy.clean_choice(kind, ContactKind, "contact kind")
    if not kind:
        raise InvalidInput("Choose e-mail, phone or address.", code="invalid_contact")
    label = policy.clean_choice(label, ContactLabel, "contact label", "home")
    value = policy.clean_contact(kind, value)
    has_any = patron.contacts.filter(kind=kind).exists()
    if preferred and has_any:
        patron.contacts.filter(kind=kind, preferred=True).update(preferred=False)
    contact = ContactPoint.objects.create(
        patron=patron,
        subject_id=patron.subject_id,
        kind=kind,
        label=label,
        value=value,
        preferred=preferred or not has_any,
    )
    audit.record(actor=actor, action="changed", obj=patron, reason=f"contact added:{kind}")
    return contact


@audited_denials
@transaction.atomic(durable=True)
def contact_remove(*, actor, contact_id) -> None:
    contact = ContactPoint.objects.select_related("patron").filter(pk=contact_id).first()
    if contact is None:
        raise NotFound("No such contact point.")
    check_patron(actor, contact.patron, "patrons.change_patron")
    patron, kind = contact.patron, contact.kind
    contact.delete()
    audit.record(actor=actor, action="changed", obj=patron, reason=f"contact removed:{kind}")


# --- cards and identifiers (SEC-ID-1) ------------------------------------------------


@audited_denials
@transaction.atomic(durable=True)
def card_replace(*, actor, patron_id, barcode: str) -> Card:
    """Issue a new card; the current one is deactivated and its number retired for good."""
    patron = _locked_patron(actor, patron_id, "patrons.change_patron")
    barcode = clean_barcode(barcode)
    records.ensure_barcode_free(barcode)
    now = timezone.now()
    for old in patron.cards.filter(active=True):
        old.active = False
        old.replaced_at = now
        old.save(update_fields=["active", "replaced_at"])
        records.retire_card(old)
    card = records.new_card(patron, barcode)
    audit.record(actor=actor, action="changed", obj=patron, reason="card replaced")
    return card


@audited_denials
@transaction.atomic(durable=True)
def identifier_add(*, actor, patron_id, type: str, value: str) -> PatronIdentifier:  # noqa: A002
    patron = _locked_patron(actor, patron_id, "patrons.change_patron")
    ident = _new_identifier(patron, type, value)
    audit.record(actor=actor, action="changed", obj=patron, reason=f"identifier added:{type}")
    return ident


# --- notes (PAT-2) ----------------------------------------------------------------


@audited_denials
@transaction.atomic(durable=True)
def note_add(*, actor, patron_id, text: str, confirmed: bool = False) -> StaffNote:
    """Save a staff note; one that looks like special-category data needs confirmed=True."""
    patron = _locked_patron(actor, patron_id, "patrons.add_note")
    text = (text or "").strip()
    if not text:
        raise InvalidInput("The note is empty.", code="invalid_note")
    if len(text) > MAX_NOTE:
        raise InvalidInput(f"A note has at most {MAX_NOTE} characters.", code="invalid_note")
    warnings = policy.note_warnings(text)
    if warnings and not confirmed:
        raise NoteNeedsConfirmation(
            "This note looks like it holds "
            + ", ".join(w.label for w in warnings)
            + ". Only write it down if the library really needs it; confirm to save.",
            details={"warnings": [w.code for w in warnings]},
        )
    note = StaffNote.objects.create(
        patron=patron,
        subject_id=patron.subject_id,
        text=text,
        author=_staff(actor),
        warning_confirmed=bool(warnings),
    )
    audit.record(
        actor=actor,
        action="changed",
        obj=patron,
        reason="note added (warning confirmed)" if warnings else "note added",
    )
    return note


# --- blocks (PAT-3) ---------------------------------------------------------------

MANUAL_REASONS = [c for c in BlockReason.values if c != BlockReason.EXPIRED]


@audited_denials
@transaction.atomic(durable=True)
def block_add(*, actor, patron_id, reason_code: str, comment: str = "", expires_on=None) -> Block:
    patron = _locked_patron(actor, patron_id, "patrons.manage_block")
    if reason_code not in MANUAL_REASONS:
        raise InvalidInput("Choose a reason for the block.", code="invalid_reason")
    expires = policy.clean_date(expires_on, "expiry date")
    if expires is not None and expires < clock.today():
        raise InvalidInput("A block cannot end in the past.", code="invalid_date")
    comment = (comment or "").strip()
    if len(comment) > MAX_NOTE:
        raise InvalidInput(f"A comment has at most {MAX_NOTE} characters.")
    block = Block.objects.create(
        patron=patron,
        subject_id=patron.subject_id,
        reason_code=reason_code,
        comment=comment or None,
        expires_on=expires,
        created_by=_staff(actor),
    )
    audit.record(actor=actor, action="blocked", obj=patron, reason=reason_code)
    return block


@audited_denials
@transaction.atomic(durable=True)
def block_lift(*, actor, block_id, reason: str) -> Block:
    try:
        bid = uuid.UUID(str(block_id))
    except ValueError:
        raise NotFound("No such block.") from None
    block = Block.objects.select_for_update().select_related("patron").filter(pk=bid).first()
    if block is None:
        raise NotFound("No such block.")
    check_patron(actor, block.patron, "patrons.manage_block")
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput("Give a reason for lifting the block.", code="reason_required")
    if block.lifted_at is not None:
        raise InvalidInput("This block was already lifted.", code="already_lifted")
    block.lifted_at = timezone.now()
    block.lifted_by = _staff(actor)
    block.lift_reason = reason[:MAX_NOTE]
    block.save(update_fields=["lifted_at", "lifted_by", "lift_reason"])
    audit.record(actor=actor, action="unblocked", obj=block.patron, reason=block.reason_code)
    return block


@audited_denials
@transaction.atomic(durable=True)
def block_override(
    *, actor, patron_id, reason: str, block_id=None, code: str = ""
) -> BlockOverride:
    """Set a block (a Block row, or an automatic one by its code) aside once, with a reason."""
    return _block_override(
        actor=actor, patron_id=patron_id, reason=reason, block_id=block_id, code=code
    )


@audited_denials
def block_override_in_transaction(
    *, actor, patron_id, reason: str, block_id=None, code: str = ""
) -> BlockOverride:
    """block_override in the caller's transaction: a desk override (circulation) sets each block
    aside together with the check-out it allows."""
    return _block_override(
        actor=actor, patron_id=patron_id, reason=reason, block_id=block_id, code=code
    )


def _block_override(
    *, actor, patron_id, reason: str, block_id=None, code: str = ""
) -> BlockOverride:
    patron = _locked_patron(actor, patron_id, "patrons.override_block")
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput("Give a reason for the override.", code="reason_required")
    block = None
    if block_id:
        block = patron.blocks.filter(pk=block_id).first()
        if block is None:
            raise NotFound("No such block.")
        code = block.reason_code
    if code not in BlockReason.values:
        raise InvalidInput("Name the block to override.", code="invalid_reason")
    override = BlockOverride.objects.create(
        patron=patron,
        subject_id=patron.subject_id,
        block=block,
        reason_code=code,
        reason=reason[:MAX_NOTE],
        by=_staff(actor),
    )
    audit.record(actor=actor, action="overridden", obj=patron, reason=code)
    return override


# --- proxies ----------------------------------------------------------------------


@audited_denials
@transaction.atomic(durable=True)
def proxy_add(*, actor, patron_id, proxy_id, kind: str = ProxyKind.PROXY) -> ProxyLink:
    patron = _locked_patron(actor, patron_id, "patrons.change_patron")
    proxy = _locked_patron(actor, proxy_id, "patrons.view_patron")
    if proxy.pk == patron.pk:
        raise InvalidInput("A patron cannot be their own proxy.", code="invalid_proxy")
    kind = policy.clean_choice(kind, ProxyKind, "proxy kind", ProxyKind.PROXY)
    link, created = ProxyLink.objects.get_or_create(patron=patron, proxy=proxy, kind=kind)
    if created:
        audit.record(actor=actor, action="changed", obj=patron, reason=f"{kind} added")
    return link


# --- erasure ---------------------------------------------------------------------


@audited_denials
def patron_erase(*, actor, patron_id, reason: str = "") -> None:
    """Erase a patron: card numbers retired (SEC-ID-1), rows deleted, data key destroyed.

    The key goes last and through the kernel (`forget_subject`), so every copy
    of the ciphertext in backups reads as "erased" too; the audit entry
    "erased" names the subject, never a value.
    """
    from quietshelf.privacy.services import forget_subject

    with transaction.atomic(durable=True):
        subject_id = _erase_rows(actor=actor, patron_id=patron_id, reason=reason)
    forget_subject(subject_id=subject_id, actor=actor, reason="patron erased")


def patron_erase_in_transaction(*, actor, patron_id, reason: str = "") -> None:
    """patron_erase in the caller's transaction: the privacy office closes the erasure
    case and erases the patron in one transaction (privacyoffice.patron_erasure_execute)."""
    from quietshelf.privacy.services import forget_subject_in_transaction

    subject_id = _erase_rows(actor=actor, patron_id=patron_id, reason=reason)
    forget_subject_in_transaction(subject_id=subject_id, actor=actor, reason="patron erased")


def _erase_rows(*, actor, patron_id, reason: str):
    """The patron's rows go (the key is the caller's next step); returns the subject id."""
    patron = _locked_patron(actor, patron_id, "patrons.delete_patron")
    subject_id = patron.subject_id
    if retention_engine.is_held(subject_id):
        raise Conflict(
            "This patron's data is under a legal hold and cannot be erased now.",
            code="legal_hold",
        )
    audit.record(actor=actor, action="erased", obj=patron, reason=reason[:100])
    # cards retired, do-not-contact digests, unresolved fees kept as bare financial
    # records, everything else deleted (patrons/retention.py)
    retention.erase_rows([patron.pk])
    return subject_id


# --- groups -----------------------------------------------------------------------
