"""State changes of the patron portal: sign-in checks, password links, registration,
the patron's own contact data and consents.

Every function is keyword-only and typed; each state change is one
transaction and writes its audit entry in it. Mail goes out after commit
(transaction.on_commit) and holds the link only: never a password or a card
number.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import secrets
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.hashers import check_password, make_password
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation

from quietshelf.accounts import authz
from quietshelf.core import after_response
from quietshelf.core.errors import InvalidInput, NotFound, RateLimited
from quietshelf.patrons.models import ContactKind, ContactPoint, Patron, PatronStatus
from quietshelf.portal import lockout, selectors
from quietshelf.portal.errors import (
    AccountNotActive,
    NoEmailAddress,
    PasswordLinkInvalid,
    PasswordRejected,
    PinNotAccepted,
    ReauthenticationFailed,
    RegistrationClosed,
    SignInFailed,
    SignInLocked,
)
from quietshelf.portal.models import PasswordLink, PasswordLinkPurpose
from quietshelf.privacy import audit
from quietshelf.privacy import services as privacy_services

log = logging.getLogger("quietshelf.portal")

MAX_LINKS_PER_HOUR = 5
_DUMMY_HASH: list[str] = []


def _dummy_check(password: str) -> None:
    """Spend the time of one Argon2 check, so unknown identifiers are not faster."""
    if not _DUMMY_HASH:
        _DUMMY_HASH.append(make_password(secrets.token_hex(16)))
    check_password(password, _DUMMY_HASH[0])


def looks_like_pin(password: str) -> bool:
    """A short all-digit secret: a self-check PIN, which the web never accepts."""
    return password.isdigit() and len(password) <= 12


# --- sign-in --------------------------------------------------------------------------


def sign_in_lockout_seconds() -> int:
    """How long a locked sign-in stays locked at most (QUIETSHELF_PATRON_LOCKOUT_MINUTES)."""
    return 60 * int(getattr(settings, "QUIETSHELF_PATRON_LOCKOUT_MINUTES", 15))


def patron_authenticate(*, identifier: str, password: str, ip: str) -> Patron:
    """Check a card number or e-mail address and a password (PRV-AUTH-1).

    Raises SignInLocked while the account is locked from this network,
    PinNotAccepted for a numeric PIN, SignInFailed for anything else that is
    wrong (one message: no account probing), AccountNotActive for an account
    awaiting approval or closed. Failures are recorded as keyed hashes only.
    """
    identifier = (identifier or "").strip()
    password = password or ""
    matches = selectors.patrons_by_identifier(identifier)
    patron = matches[0] if len(matches) == 1 else None
    account = lockout.account_digest(patron_id=patron.pk if patron else None, identifier=identifier)
    network = lockout.network_digest(ip)
    if lockout.is_locked(account=account, network=network):
        raise SignInLocked(
            "Too many failed sign-ins. Wait a quarter of an hour, or reset your password "
            "with a link sent by e-mail."
        )
    if looks_like_pin(password):
        lockout.record_failure(account=account, network=network)
        raise PinNotAccepted(
            "A PIN is for the self-check machines only. Sign in here with your password, "
            "or ask for a link to set one."
        )
    if patron is None:
        _dummy_check(password)
        lockout.record_failure(account=account, network=network)
        raise SignInFailed("That card number or e-mail address and password do not match.")
    if not patron.check_password(password):
        lockout.record_failure(account=account, network=network)
        raise SignInFailed("That card number or e-mail address and password do not match.")
    if patron.status == PatronStatus.PENDING:
        raise AccountNotActive("Your registration is waiting for the library to approve it.")
    if (
        patron.status == PatronStatus.CLOSED
        or selectors.patron_for_session(patron_id=patron.pk) is None
    ):
        raise SignInFailed("That card number or e-mail address and password do not match.")
    lockout.clear(account=account, network=network)
    Patron.objects.filter(pk=patron.pk).update(
        last_login=timezone.now().replace(hour=0, minute=0, second=0, microsecond=0)
    )
    return patron


def patron_reauthenticate(*, patron: Patron, password: str, ip: str) -> None:
    """Ask for the password again before a sensitive change (SEC-AUTH-1)."""
    account = lockout.account_digest(patron_id=patron.pk)
    network = lockout.network_digest(ip)
    if lockout.is_locked(account=account, network=network):
        raise SignInLocked("Too many wrong passwords. Wait a quarter of an hour.")
    if not password:
        raise ReauthenticationFailed("Enter your current password to make this change.")
    fresh = Patron.objects.get(pk=patron.pk)
    if not fresh.check_password(password):
        lockout.record_failure(account=account, network=network)
        raise ReauthenticationFailed("That is not your current password.")


# --- passwords ----------------------------------------------------------------------------


def check_new_password(password: str) -> None:
    """Django's validators (8+ characters, not common, not all digits) or PasswordRejected."""
    try:
        validate_password(password or "")
    except ValidationError as exc:
        raise PasswordRejected(" ".join(exc.messages)) from None


def _site_url(base_url: str | None) -> str:
    return (base_url or settings.QUIETSHELF_SITE_URL).rstrip("/")


def _issue_link(*, patron: Patron, purpose: str, base_url: str | None, by_staff: bool) -> bool:
    """Create a link and mail it after commit. False when none was sent (no e-mail, too many)."""
    email = selectors.preferred_email(patron)
    if email is None:
        return False
    now = timezone.now()
    recent = PasswordLink.objects.filter(patron=patron, created_at__gte=now - dt.timedelta(hours=1))
    if recent.count() >= MAX_LINKS_PER_HOUR:
        return False
    # A new link replaces any earlier one still unused.
    PasswordLink.objects.filter(patron=patron, used_at__isnull=True).update(used_at=now)
    token = secrets.token_urlsafe(32)
    minutes = int(getattr(settings, "QUIETSHELF_PASSWORD_LINK_MINUTES", 60))
    PasswordLink.objects.create(
        patron=patron,
        token_hash=hashlib.sha256(token.encode()).hexdigest(),
        purpose=purpose,
        sent_by_staff=by_staff,
        created_at=now,
        expires_at=now + dt.timedelta(minutes=minutes),
    )
    url = _site_url(base_url) + reverse("account:password_link", kwargs={"token": token})
    language = patron.preferred_language or settings.LANGUAGE_CODE
    with translation.override(language):
        subject = render_to_string(
            "portal/email/password_link_subject.txt", {"purpose": purpose}
        ).strip()
        body = render_to_string(
            "portal/email/password_link.txt",
            {"url": url, "minutes": minutes, "purpose": purpose},
        )

    patron_id = patron.pk

    def deliver() -> None:
        try:
            send_mail(subject, body, None, [email])
        except Exception as exc:  # noqa: BLE001 - the patron can ask again
            # Type only: an SMTP error's text can hold the recipient's address (PRV-LOG-1).
            log.error(
                "password link e-mail for patron %s failed: %s", patron_id, type(exc).__name__
            )

    # after the commit and after the response: a request takes the same time whether or
    # not a link is mailed, and a slow mail server holds no page up (SEC-AUTH-1)
    transaction.on_commit(lambda: after_response.defer(deliver))
    return True


@transaction.atomic(durable=True)
def password_link_request(*, identifier: str, base_url: str | None = None) -> None:
    """A patron asks for a link ("forgot my password"). Silent about unknown accounts."""
    matches = selectors.patrons_by_identifier(identifier)
    if len(matches) != 1:
        return
    patron = matches[0]
    if patron.status == PatronStatus.CLOSED:
        return
    purpose = PasswordLinkPurpose.RESET if patron.password_hash else PasswordLinkPurpose.SET
    if _issue_link(patron=patron, purpose=purpose, base_url=base_url, by_staff=False):
        audit.record(
            actor=audit.Actor(audit.ActorType.ANONYMOUS),
            action="password_link_sent",
            obj=patron,
            reason="requested on the web",
        )


@transaction.atomic(durable=True)
def send_password_link(*, actor, patron_id, base_url: str | None = None) -> None:
    """Staff send a patron a link to set or reset their password.

    Needs "patrons.send_password_link" for the patron's home branch. Staff
    never see the token or the password: it goes only to the patron's
    preferred e-mail address.
    """
    patron = Patron.objects.filter(pk=patron_id).first()
    if patron is None:
        raise NotFound("No such patron.")
    authz.require(actor, "patrons.send_password_link", branch_id=patron.home_branch_id)
    scope = authz.branch_scope(actor, "patrons.send_password_link")
    if scope is not None and patron.home_branch_id not in scope:
        raise NotFound("No such patron.")
    purpose = PasswordLinkPurpose.RESET if patron.password_hash else PasswordLinkPurpose.SET
    if selectors.preferred_email(patron) is None:
        raise NoEmailAddress("This patron has no e-mail address to send a link to.")
    if not _issue_link(patron=patron, purpose=purpose, base_url=base_url, by_staff=True):
        raise RateLimited("Several links were sent in the last hour; wait before sending another.")
    audit.record(actor=actor, action="password_link_sent", obj=patron, reason="sent by staff")


@transaction.atomic(durable=True)
def password_set_by_link(*, token: str, new_password: str) -> Patron:
    """Use a link once: set the password, clear sign-in failures, end other sessions."""
    link = selectors.password_link_by_token(token=token)
    if link is None:
        raise PasswordLinkInvalid("This link has expired or has been used. Ask for a new one.")
    check_new_password(new_password)
    used = PasswordLink.objects.filter(pk=link.pk, used_at__isnull=True).update(
        used_at=timezone.now()
    )
    if used != 1:
        raise PasswordLinkInvalid("This link has expired or has been used. Ask for a new one.")
    patron = Patron.objects.select_for_update().get(pk=link.patron_id)
    patron.set_password(new_password)
    patron.save(update_fields=["password_hash", "updated_at"])
    lockout.clear(account=lockout.account_digest(patron_id=patron.pk))
    audit.record(actor=audit.Actor.patron(patron.pk), action="password_set", obj=patron)
    return patron


def password_change(*, patron: Patron, old_password: str, new_password: str, ip: str) -> Patron:
    """Change the password knowing the current one (My account).

    The current password is checked outside the change's transaction, so a
    wrong one counts towards the lock-out.
    """
    patron_reauthenticate(patron=patron, password=old_password, ip=ip)
    check_new_password(new_password)
    with transaction.atomic(durable=True):
        fresh = Patron.objects.select_for_update().get(pk=patron.pk)
        fresh.set_password(new_password)
        fresh.save(update_fields=["password_hash", "updated_at"])
        audit.record(actor=audit.Actor.patron(fresh.pk), action="password_changed", obj=fresh)
    return fresh


# --- self-check PIN (INT-1, PRV-AUTH-1) --------------------------------------------------

PIN_MIN, PIN_MAX = 4, 8


def check_new_pin(pin: str) -> str:
    """4-8 digits, not one digit repeated, not a run like 1234 or 9876 (PinRejected)."""
    from quietshelf.portal.errors import PinRejected

    pin = (pin or "").strip()
    if not pin.isdigit() or not (PIN_MIN <= len(pin) <= PIN_MAX):
        raise PinRejected(f"A PIN is {PIN_MIN} to {PIN_MAX} digits.")
    steps = {(int(b) - int(a)) % 10 for a, b in zip(pin, pin[1:], strict=False)}
    if steps in ({0}, {1}, {9}):
        raise PinRejected("That PIN is too easy to guess: avoid repeated digits and runs.")
    return pin


def pin_set(*, patron: Patron, pin: str, password: str, ip: str) -> None:
    """The patron sets (or changes) their own self-check PIN, knowing their password.

    Staff can never set one (they can only send a password link, after which
    the patron sets the PIN here). Stored as an Argon2id hash; accepted only by
    the SIP2 server (docs/sip2.md), never for web sign-in.
    """
    patron_reauthenticate(patron=patron, password=password, ip=ip)
    pin = check_new_pin(pin)
    with transaction.atomic(durable=True):
        fresh = Patron.objects.select_for_update().get(pk=patron.pk)
        fresh.set_pin(pin)
        fresh.save(update_fields=["pin_hash", "updated_at"])
        audit.record(actor=audit.Actor.patron(fresh.pk), action="pin_set", obj=fresh)


def pin_remove(*, patron: Patron, password: str, ip: str) -> None:
    """No PIN: self-check machines then refuse the card (when they ask for a PIN)."""
    patron_reauthenticate(patron=patron, password=password, ip=ip)
    with transaction.atomic(durable=True):
        fresh = Patron.objects.select_for_update().get(pk=patron.pk)
        fresh.set_pin(None)
        fresh.save(update_fields=["pin_hash", "updated_at"])
        audit.record(actor=audit.Actor.patron(fresh.pk), action="pin_removed", obj=fresh)


# --- self-registration (PRV-MIN-1) ----------------------------------------------------


def registration_mode() -> str:
    return getattr(settings, "QUIETSHELF_SELF_REGISTRATION", "off")


@dataclass(frozen=True)
class Registration:
    patron: Patron | None  # None: the address was known; a link went to it instead
    pending: bool


REGISTRATIONS_PER_HOUR = 10


def _registration_allowed(ip: str) -> bool:
    """At most REGISTRATIONS_PER_HOUR registrations per network and hour (SEC-DOS-1)."""
    from django.core.cache import cache

    key = "qs-portal-reg:" + lockout.network_digest(ip)
    cache.add(key, 0, timeout=3600)
    try:
        count = cache.incr(key)
    except ValueError:  # expired in between
        cache.add(key, 1, timeout=3600)
        count = 1
    limit = int(getattr(settings, "QUIETSHELF_REGISTRATIONS_PER_HOUR", REGISTRATIONS_PER_HOUR))
    return count <= limit


@transaction.atomic(durable=True)
def self_register(
    *,
    given_name: str,
    family_name: str,
    email: str,
    phone: str = "",
    address: str = "",
    preferred_language: str = "",
    policy_id: int | None,
    acknowledged: bool,
    base_url: str | None = None,
    ip: str = "",
) -> Registration:
    """Register from the public site: name and e-mail required, the rest only if given.

    The account is pending until staff approve it (mode "pending") or active
    at once ("immediate"). The patron receives a link to set their password
    (which also proves the e-mail address is theirs). An address the library
    already has gets a password link for that account instead of a second
    account, and the page says the same either way (no probing for members).
    """
    mode = registration_mode()
    if mode not in {"pending", "immediate"}:
        raise RegistrationClosed("The library does not take registrations on the web.")
    if not _registration_allowed(ip):
        raise RateLimited("Too many registrations from your network; please try again later.")
    if not acknowledged:
        raise InvalidInput("Please confirm you have read the privacy statement.")
    from quietshelf.privacy.services import current_policy

    policy = current_policy()
    if policy is not None and policy.pk != policy_id:
        raise InvalidInput("The privacy statement has changed; please read the new version.")
    email = (email or "").strip()
    if not given_name.strip() and not family_name.strip():
        raise InvalidInput("Please give your name.")
    status = PatronStatus.PENDING if mode == "pending" else PatronStatus.ACTIVE
    known = selectors.patrons_by_identifier(email) if "@" in email else []
    if known:
        if len(known) == 1 and known[0].status != PatronStatus.CLOSED:
            _issue_link(
                patron=known[0],
                purpose=PasswordLinkPurpose.RESET
                if known[0].password_hash
                else PasswordLinkPurpose.SET,
                base_url=base_url,
                by_staff=False,
            )
        return Registration(patron=None, pending=status == PatronStatus.PENDING)
    patron = _register_patron(
        given_name=given_name.strip(),
        family_name=family_name.strip(),
        email=email,
        phone=phone.strip(),
        address=address.strip(),
        preferred_language=preferred_language,
        status=status,
    )
    who = audit.Actor.patron(patron.pk)
    audit.record(actor=who, action="created", obj=patron, reason=f"self-registration {mode}")
    if policy is not None:
        privacy_services.policy_acknowledge_in_transaction(actor=who, policy_id=policy.pk)
    _issue_link(patron=patron, purpose=PasswordLinkPurpose.SET, base_url=base_url, by_staff=False)
    return Registration(patron=patron, pending=status == PatronStatus.PENDING)


def _register_patron(
    *,
    given_name: str,
    family_name: str,
    email: str,
    phone: str,
    address: str,
    preferred_language: str,
    status: str,
) -> Patron:
    """Through the patrons service, with a web card number (PAT-1 wants one identifier)."""
    from quietshelf.patrons import services as patron_services

    return patron_services.patron_register_in_transaction(
        actor=audit.Actor.system("self-registration"),
        given_name=given_name,
        family_name=family_name,
        barcode=_free_web_card_number(),
        email=email,
        phone=phone,
        address=address,
        preferred_language=preferred_language,
        status=status,
    )


def _free_web_card_number() -> str:
    """A random card number for a registration on the web ("W" and 12 digits), never reused."""
    from quietshelf.patrons.models import Card, RetiredIdentifier
    from quietshelf.patrons.services import barcode_digest

    for _ in range(20):
        number = "W" + "".join(secrets.choice("0123456789") for _ in range(12))
        digest = barcode_digest(number)
        if not (
            Card.objects.filter(barcode_index=digest).exists()
            or RetiredIdentifier.objects.filter(kind="card", digest=digest).exists()
        ):
            return number
    raise RuntimeError("could not find a free card number")  # pragma: no cover


# --- the patron's own contact data (PRV-DSR-3) ---------------------------------------------


REAUTH_KINDS = {ContactKind.EMAIL, ContactKind.PHONE}


def own_contacts_update(
    *,
    patron: Patron,
    email: str | None,
    phone: str | None,
    address: str | None,
    password: str = "",
    ip: str = "",
) -> list[str]:
    """Set the patron's preferred e-mail, phone and address; returns the kinds changed.

    Changing the e-mail address or phone number asks for the password again
    (SEC-AUTH-1), checked before the change's transaction so a wrong password
    counts towards the lock-out. An empty value removes that contact point.
    """
    current: dict[str, ContactPoint] = {}
    for c in ContactPoint.objects.filter(patron=patron).order_by("-preferred", "created_at"):
        current.setdefault(c.kind, c)
    wanted = {"email": email, "phone": phone, "address": address}
    changes = {}
    for kind, value in wanted.items():
        if value is None:
            continue
        value = value.strip()
        old = current.get(kind)
        old_value = str(old.value) if old is not None else ""
        if value != old_value:
            changes[kind] = value
    if not changes:
        return []
    if REAUTH_KINDS & set(changes):
        if not patron.password_hash:
            raise ReauthenticationFailed(
                "Set a password first (ask for a link): it is needed to change your e-mail "
                "address or phone number."
            )
        patron_reauthenticate(patron=patron, password=password, ip=ip)
    from quietshelf.patrons import services as patron_services

    patron_services.patron_update_contact(
        actor=audit.Actor.patron(patron.pk), patron_id=patron.pk, **changes
    )
    return sorted(changes)


def own_contact_remove(*, patron: Patron, contact_id, password: str = "", ip: str = "") -> None:
    """Remove one of the patron's contact points; an e-mail or phone asks for the password."""
    contact = ContactPoint.objects.filter(patron=patron, pk=contact_id).first()
    if contact is None:
        raise NotFound("No such contact point.")
    if contact.kind in REAUTH_KINDS:
        if not patron.password_hash:
            raise ReauthenticationFailed("Set a password first: it is needed for this change.")
        patron_reauthenticate(patron=patron, password=password, ip=ip)
    from quietshelf.patrons import services as patron_services

    patron_services.contact_remove(actor=audit.Actor.patron(patron.pk), contact_id=contact.pk)


@transaction.atomic(durable=True)
def denied_access_recorded(*, patron: Patron, object_id) -> None:
    """Patron asked for a row that is not theirs: answer 404, and keep a trace."""
    audit.record(
        actor=audit.Actor.patron(patron.pk),
        action="access_denied",
        object_type="patrons.contactpoint",
        object_id=str(object_id)[:64],
        reason="not the patron's own record",
    )


def policy_acknowledged(*, patron: Patron, policy_id: int) -> None:
    """The patron acknowledged a policy version (recorded and audited by the kernel)."""
    privacy_services.policy_acknowledge(actor=audit.Actor.patron(patron.pk), policy_id=policy_id)


# --- consents --------------------------------------------------------------------------


def consent_set(*, patron: Patron, scope: str, give: bool) -> None:
    who = audit.Actor.patron(patron.pk)
    if give:
        privacy_services.give_consent(subject_id=patron.subject_id, scope=scope, actor=who)
    else:
        privacy_services.withdraw_consent(subject_id=patron.subject_id, scope=scope, actor=who)


@transaction.atomic(durable=True)
def own_data_exported(*, patron: Patron, fmt: str) -> None:
    """Record that the patron downloaded everything held about them."""
    audit.record(
        actor=audit.Actor.patron(patron.pk), action="exported", obj=patron, reason=f"own data {fmt}"
    )


@transaction.atomic(durable=True)
def portal_purge_expired() -> dict[str, int]:
    """For the retention job: old sign-in failures and password links past their rules."""
    days = settings.QUIETSHELF_RETENTION.get("password_link", {}).get("days") or 7
    links, _ = PasswordLink.objects.filter(
        created_at__lt=timezone.now() - dt.timedelta(days=days)
    ).delete()
    return {"sign_in_failures": lockout.purge_old(), "password_links": links}
