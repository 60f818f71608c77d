"""Which patron a verified single sign-on identity is, and what of it is stored (INT-2).

1. A patron already linked to (provider, subject) is that patron (the link
   keeps only a keyed hash of the provider's subject id).
2. Otherwise the value of the provider's `match_attribute` is looked up as
   an institutional identifier through its blind index; a match is linked.
3. Otherwise, when the provider allows it (`create_patrons`), a patron is
   registered with the mapped attributes and the institutional identifier.
4. Otherwise: no library account matches (the patron asks at the desk).

Only the attributes named in the provider's `attributes` mapping are
stored; every other claim or attribute is dropped here and never written.
"""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.utils import timezone

from quietshelf.core.errors import DomainError
from quietshelf.patrons.models import IdentifierType, Patron, PatronStatus
from quietshelf.portal import selectors
from quietshelf.portal.models import SsoLink
from quietshelf.portal.sso.config import Provider
from quietshelf.privacy import audit
from quietshelf.privacy.fields import blind_index

SUBJECT_PURPOSE = "patron_portal.sso_subject"


class NoMatchingPatron(DomainError):
    code = "sso_no_patron"
    status_hint = 403


def subject_digest(provider: Provider, subject: str) -> str:
    return blind_index(f"{provider.name}|{subject}", purpose=SUBJECT_PURPOSE, kind="text")


def _first(value):
    if isinstance(value, list | tuple):
        return value[0] if value else None
    return value


def mapped_attributes(provider: Provider, claims: dict) -> dict[str, str]:
    """Patron field -> value, for the mapped attributes only (strings, trimmed)."""
    out = {}
    for field_name, claim in provider.attributes.items():
        value = _first(claims.get(claim))
        if value is None:
            continue
        text = str(value).strip()
        if text and len(text) <= 254:
            out[field_name] = text
    return out


@transaction.atomic
def sso_patron(*, provider: Provider, subject: str, claims: dict) -> Patron:
    """The patron for a verified identity (see the module docstring), updated from it."""
    subject = str(subject or "").strip()
    if not subject:
        raise NoMatchingPatron("The sign-in service sent no user id.")
    digest = subject_digest(provider, subject)
    link = (
        SsoLink.objects.select_related("patron")
        .filter(provider=provider.name, subject_digest=digest)
        .first()
    )
    attrs = mapped_attributes(provider, claims)
    system = audit.Actor.system(f"sso:{provider.name}")
    if link is not None:
        patron = link.patron
    else:
        match_value = _first(claims.get(provider.match_attribute))
        match_value = str(match_value).strip() if match_value is not None else ""
        patron = selectors.patron_by_institutional_id(match_value) if match_value else None
        if patron is None:
            if not (provider.create_patrons and match_value):
                raise NoMatchingPatron(
                    "No library account matches your institutional login. Ask at the desk "
                    "to have it connected."
                )
            patron = _register(provider=provider, match_value=match_value, attrs=attrs)
        try:
            with transaction.atomic():
                link = SsoLink.objects.create(
                    patron=patron,
                    provider=provider.name,
                    subject_digest=digest,
                    created_at=timezone.now(),
                )
        except IntegrityError:
            link = SsoLink.objects.get(provider=provider.name, subject_digest=digest)
            patron = link.patron
        audit.record(actor=system, action="sso_linked", obj=patron, reason=provider.name)
    if patron.status in (PatronStatus.CLOSED, PatronStatus.PENDING):
        raise NoMatchingPatron("This library account cannot be used on the web now.")
    _update(patron=patron, attrs=attrs, actor=system)
    SsoLink.objects.filter(pk=link.pk).update(last_used=timezone.localdate())
    return patron


def _register(*, provider: Provider, match_value: str, attrs: dict) -> Patron:
    from quietshelf.patrons import services as patron_services

    return patron_services.patron_register_in_transaction(
        actor=audit.Actor.system(f"sso:{provider.name}"),
        given_name=attrs.get("given_name", ""),
        family_name=attrs.get("family_name", "") or ("—" if not attrs.get("given_name") else ""),
        identifiers=[(IdentifierType.INSTITUTIONAL, match_value)],
        email=attrs.get("email", ""),
        phone=attrs.get("phone", ""),
        preferred_language=attrs.get("preferred_language", "")
        if attrs.get("preferred_language") in ("en", "nb")
        else "",
    )


def _update(*, patron: Patron, attrs: dict, actor) -> None:
    """Store the mapped attributes that changed (and nothing else)."""
    from quietshelf.patrons import services as patron_services

    core = {}
    for name in ("given_name", "family_name"):
        if name in attrs and attrs[name] != (getattr(patron, name) or ""):
            core[name] = attrs[name]
    if attrs.get("preferred_language") in ("en", "nb") and (
        attrs["preferred_language"] != patron.preferred_language
    ):
        core["preferred_language"] = attrs["preferred_language"]
    if core:
        patron_services.patron_update_in_transaction(actor=actor, patron_id=patron.pk, **core)
    contact = {}
    for kind in ("email", "phone"):
        if kind in attrs:
            current = selectors.preferred_email(patron) if kind == "email" else None
            if kind == "phone":
                from quietshelf.patrons.selectors import patron_preferred_contact

                current = patron_preferred_contact(patron, "phone")
            if str(current or "") != attrs[kind]:
                contact[kind] = attrs[kind]
    for kind, value in contact.items():
        try:
            with transaction.atomic():
                patron_services.patron_update_contact_in_transaction(
                    actor=actor, patron_id=patron.pk, **{kind: value}
                )
        except DomainError:
            pass  # a malformed value from the provider is not stored; sign-in goes on
