"""Reads of the patron portal. Every read is about the signed-in patron only.

Nothing here takes a patron id from a URL: pages and the API pass
``request.patron`` (set by patrons.auth from the session), so patron A has
no way to name patron B's rows (no IDOR by construction). Where a page
names one of the patron's own rows (a contact point), the look-up is
filtered by the signed-in patron and anything else is "not found".
"""

from __future__ import annotations

import hashlib
import uuid

from django.utils import timezone

from quietshelf.patrons.models import (
    Card,
    ContactKind,
    ContactPoint,
    IdentifierType,
    Patron,
    PatronIdentifier,
)

# the session selectors live in patrons (patrons.auth reads them); portal.services asks here
from quietshelf.patrons.selectors import password_hash_of, patron_for_session  # noqa: F401
from quietshelf.portal.models import PasswordLink
from quietshelf.privacy.models import ActorType, AuditEntry, ConsentRecord


def patrons_by_identifier(identifier: str) -> list[Patron]:
    """Patrons matching a card number or an e-mail address (exact, through blind indexes)."""
    from quietshelf.patrons import selectors as patron_selectors

    identifier = (identifier or "").strip()
    if not identifier or len(identifier) > 254:
        return []
    if "@" in identifier:
        return patron_selectors.patrons_by_email(identifier)[:5]
    patron = patron_selectors.patron_by_card_barcode(identifier)
    return [patron] if patron is not None else []


def patron_by_institutional_id(value: str) -> Patron | None:
    from quietshelf.patrons import selectors as patron_selectors

    return patron_selectors.patron_by_identifier(IdentifierType.INSTITUTIONAL, value)


def preferred_email(patron) -> str | None:
    """The patron's preferred e-mail address (decrypted), or None."""
    for contact in ContactPoint.objects.filter(patron=patron, kind=ContactKind.EMAIL).order_by(
        "-preferred", "created_at"
    ):
        value = contact.value
        if value and not getattr(value, "reason", ""):
            return str(value)
    return None


def own_contacts(*, patron) -> list[ContactPoint]:
    return list(ContactPoint.objects.filter(patron=patron).order_by("kind", "-preferred"))


def own_contact(*, patron, contact_id) -> ContactPoint | None:
    """One of the signed-in patron's contact points; None for anyone else's."""
    try:
        return ContactPoint.objects.filter(patron=patron, pk=contact_id).first()
    except (ValueError, TypeError):
        return None


def own_cards(*, patron) -> list[Card]:
    return list(Card.objects.filter(patron=patron))


def password_link_by_token(*, token: str) -> PasswordLink | None:
    """A link that can still be used: unknown, used and expired links are all None."""
    if not token or len(token) > 100:
        return None
    digest = hashlib.sha256(token.encode()).hexdigest()
    return (
        PasswordLink.objects.select_related("patron")
        .filter(token_hash=digest, used_at__isnull=True, expires_at__gt=timezone.now())
        .first()
    )


def consents(*, patron) -> list[dict]:
    """Every registered consent scope with this patron's current choice."""
    from quietshelf.privacy import consent

    active = {
        rec.scope: rec
        for rec in ConsentRecord.objects.filter(subject_id=patron.subject_id, withdrawn_at=None)
    }
    return [
        {
            "scope": scope.name,
            "description": str(scope.description),  # a lazy translation, in this request's language
            "given": scope.name in active,
            "given_at": active[scope.name].given_at if scope.name in active else None,
        }
        for scope in consent.scopes()
    ]


def _record_ids(patron) -> set[str]:
    ids = {str(patron.pk)}
    for model in (ContactPoint, Card, PatronIdentifier):
        ids.update(
            str(pk) for pk in model.objects.filter(patron=patron).values_list("pk", flat=True)
        )
    return ids


def access_log(*, patron, limit: int = 200) -> list[dict]:
    """Who looked at or changed this patron's record: actor kind, role, action and day.

    Staff members are shown by role, never by name or id (the privacy office
    can resolve an entry from the audit log when the patron asks).
    """
    object_ids = _record_ids(patron)
    entries = (
        AuditEntry.objects.filter(object_type__startswith="patrons.", object_id__in=object_ids)
        .exclude(actor_type=ActorType.PATRON, actor_id=str(patron.pk))
        .order_by("-seq")[:limit]
    )
    roles = _roles_of_staff({e.actor_id for e in entries if e.actor_type == ActorType.STAFF})
    out = []
    for e in entries:
        who = ActorType(e.actor_type).label if e.actor_type in ActorType.values else e.actor_type
        if e.actor_type == ActorType.STAFF:
            who = roles.get(e.actor_id) or "Library staff"
        elif e.actor_type == ActorType.PATRON:
            who = "Another patron (proxy)"
        out.append(
            {
                "day": timezone.localtime(e.at).date(),
                "who": who,
                "actor_type": e.actor_type,
                "action": e.action.replace("_", " "),
                "what": e.object_type.split(".", 1)[-1],
            }
        )
    return out


def _roles_of_staff(actor_ids: set[str]) -> dict[str, str]:
    """Role names of staff members now (one query); never a name or id of the person."""
    ids = []
    for actor_id in actor_ids:
        try:
            ids.append(uuid.UUID(actor_id))
        except ValueError:
            continue
    if not ids:
        return {}
    from quietshelf.accounts.models import RoleGrant, StaffUser

    names: dict[str, set[str]] = {}
    for user_id, role_name in RoleGrant.objects.filter(user_id__in=ids).values_list(
        "user_id", "role__name"
    ):
        names.setdefault(str(user_id), set()).add(role_name)
    for user_id in StaffUser.objects.filter(pk__in=ids, is_superuser=True).values_list(
        "pk", flat=True
    ):
        names.setdefault(str(user_id), set()).add("Administrator")
    return {
        actor_id: "Library staff (" + ", ".join(sorted(roles)) + ")"
        for actor_id, roles in names.items()
    }
