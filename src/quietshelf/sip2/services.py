"""SIP2 terminal accounts, terminal login and card + PIN checks (INT-1, PRV-AUTH-1, SEC-ACC-1).

Terminal accounts are managed by staff holding "accounts.manage_staff" for
the terminal's branch (CLI: the system). Each change is one transaction
with its audit entry.

Lock-outs (settings, docs/sip2.md):

- a terminal login fails QUIETSHELF_SIP2_LOGIN_FAILURES times from one
  network within QUIETSHELF_SIP2_LOCKOUT_MINUTES: that terminal name is
  locked *from that network*;
- a card's PIN fails QUIETSHELF_SIP2_PIN_FAILURES times at one terminal:
  that card is locked *at that terminal* only, so guessing at one machine
  never locks the patron out of the others, the desk or the web;
- QUIETSHELF_SIP2_TERMINAL_PIN_FAILURES failed PINs at one terminal,
  whatever the cards, stop PIN checks there (guessing across many cards).

A correct PIN clears that card's failures at that terminal.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.hashers import check_password, make_password
from django.db import transaction
from django.utils import timezone

from quietshelf.accounts import authz
from quietshelf.catalog.models import Branch
from quietshelf.core.errors import Conflict, InvalidInput, NotFound
from quietshelf.core.netutil import truncate_ip
from quietshelf.patrons import selectors as patron_selectors
from quietshelf.privacy import audit
from quietshelf.privacy.fields import blind_index
from quietshelf.sip2.models import FailureKind, PatronName, Sip2Failure, Terminal
from quietshelf.sip2.protocol.fields import GRANTABLE

MANAGE = "accounts.manage_staff"
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{1,63}$")
MIN_PASSWORD = 12
CARD_PURPOSE = "sip2.pin_card"
TERMINAL_PURPOSE = "sip2.login_terminal"
NETWORK_PURPOSE = "sip2.login_network"
_DUMMY: list[str] = []


def _dummy_check(raw: str) -> None:
    """Spend one Argon2 check, so unknown names and cards answer no faster."""
    if not _DUMMY:
        _DUMMY.append(make_password(secrets.token_hex(16)))
    check_password(raw or "-", _DUMMY[0])


# --- terminal accounts ------------------------------------------------------------------


def _branch(branch) -> Branch:
    if isinstance(branch, Branch):
        return branch
    found = None
    if isinstance(branch, int) or (isinstance(branch, str) and branch.isdigit()):
        found = Branch.objects.filter(pk=int(branch)).first()
    if found is None and isinstance(branch, str):
        found = Branch.objects.filter(code=branch.strip()).first()
    if found is None:
        raise InvalidInput(f"No branch {branch!r}.", code="invalid_branch")
    return found


def clean_messages(codes) -> str:
    """The allowed message codes, checked and in a stable order."""
    if isinstance(codes, str):
        codes = [c.strip() for c in codes.split(",")]
    wanted = {c for c in codes if c}
    unknown = sorted(wanted - set(GRANTABLE))
    if unknown:
        raise InvalidInput(
            f"Unknown or not grantable SIP2 messages: {', '.join(unknown)} "
            f"(choose from {', '.join(GRANTABLE)}).",
            code="invalid_messages",
        )
    return ",".join(c for c in GRANTABLE if c in wanted)


def _check_password(password: str) -> str:
    if len(password or "") < MIN_PASSWORD:
        raise InvalidInput(
            f"A terminal password has at least {MIN_PASSWORD} characters.",
            code="weak_password",
        )
    return password


def generate_password() -> str:
    return secrets.token_urlsafe(18)


@transaction.atomic(durable=True)
def terminal_create(
    *,
    actor,
    name: str,
    branch,
    password: str | None = None,
    allowed_messages=GRANTABLE,
    patron_name: str = PatronName.FIRST,
    send_titles: bool = False,
    require_pin: bool = True,
    institution_id: str = "",
) -> tuple[Terminal, str]:
    """A new terminal account; returns it and its password (generated when none is given)."""
    name = (name or "").strip()
    if not NAME_RE.match(name):
        raise InvalidInput(
            "A terminal name is 2-64 letters, digits, '.', '_' or '-'.", code="invalid_name"
        )
    branch = _branch(branch)
    authz.require(actor, MANAGE, branch_id=branch.pk)
    if patron_name not in PatronName.values:
        raise InvalidInput("Patron name is full, first or none.", code="invalid_patron_name")
    if Terminal.objects.filter(name=name).exists():
        raise Conflict(f"A terminal named {name} exists already.", code="terminal_exists")
    password = _check_password(password) if password else generate_password()
    terminal = Terminal(
        name=name,
        branch=branch,
        allowed_messages=clean_messages(allowed_messages),
        patron_name=patron_name,
        send_titles=bool(send_titles),
        require_pin=bool(require_pin),
        institution_id=(institution_id or "").strip()[:64],
    )
    terminal.set_password(password)
    terminal.save()
    audit.record(actor=actor, action="created", obj=terminal)
    return terminal, password


def _locked_terminal(actor, terminal_id) -> Terminal:
    terminal = Terminal.objects.select_for_update().filter(pk=terminal_id).first()
    if terminal is None:
        raise NotFound("No such terminal.", code="terminal_not_found")
    authz.require(actor, MANAGE, branch_id=terminal.branch_id)
    return terminal


@transaction.atomic(durable=True)
def terminal_update(*, actor, terminal_id, **changes) -> Terminal:
    """Change a terminal's branch, messages, name policy, titles, PIN rule or active flag."""
    terminal = _locked_terminal(actor, terminal_id)
    if "branch" in changes:
        branch = _branch(changes.pop("branch"))
        authz.require(actor, MANAGE, branch_id=branch.pk)
        terminal.branch = branch
    if "allowed_messages" in changes:
        terminal.allowed_messages = clean_messages(changes.pop("allowed_messages"))
    if "patron_name" in changes:
        value = changes.pop("patron_name")
        if value not in PatronName.values:
            raise InvalidInput("Patron name is full, first or none.", code="invalid_patron_name")
        terminal.patron_name = value
    for flag in ("send_titles", "require_pin", "active"):
        if flag in changes:
            setattr(terminal, flag, bool(changes.pop(flag)))
    if "institution_id" in changes:
        terminal.institution_id = (changes.pop("institution_id") or "").strip()[:64]
    if changes:
        raise InvalidInput(f"Unknown terminal settings: {', '.join(sorted(changes))}.")
    terminal.save()
    audit.record(actor=actor, action="changed", obj=terminal)
    return terminal


@transaction.atomic(durable=True)
def terminal_set_password(*, actor, terminal_id, password: str | None = None) -> str:
    """A new password (generated when none is given); the old one stops working at once."""
    terminal = _locked_terminal(actor, terminal_id)
    password = _check_password(password) if password else generate_password()
    terminal.set_password(password)
    terminal.save(update_fields=["password_hash"])
    Sip2Failure.objects.filter(
        kind=FailureKind.LOGIN, account_digest=_terminal_digest(terminal.name)
    ).delete()
    audit.record(actor=actor, action="changed", obj=terminal, reason="password reset")
    return password


def terminal_list(*, actor) -> list[Terminal]:
    scope = authz.branch_scope(actor, MANAGE)
    qs = Terminal.objects.select_related("branch")
    if scope is not None:
        qs = qs.filter(branch_id__in=scope)
    return list(qs)


def terminal_get(*, actor, terminal_id) -> Terminal:
    terminal = Terminal.objects.select_related("branch").filter(pk=terminal_id).first()
    scope = authz.branch_scope(actor, MANAGE)
    if terminal is None or (scope is not None and terminal.branch_id not in scope):
        raise NotFound("No such terminal.", code="terminal_not_found")
    return terminal


# --- lock-outs -----------------------------------------------------------------------------


def _since() -> dt.datetime:
    return timezone.now() - dt.timedelta(minutes=settings.QUIETSHELF_SIP2_LOCKOUT_MINUTES)


def _terminal_digest(name: str) -> str:
    return blind_index(name or "-", purpose=TERMINAL_PURPOSE, kind="text")


def _network_digest(ip: str) -> str:
    return blind_index(truncate_ip(ip or "0.0.0.0"), purpose=NETWORK_PURPOSE, kind="text")  # noqa: S104


def _card_digest(card: str) -> str:
    return blind_index(card or "-", purpose=CARD_PURPOSE, kind="barcode")


def _fail(kind: str, account: str, source: str) -> None:
    Sip2Failure.objects.create(kind=kind, account_digest=account, source=source, at=timezone.now())


# --- terminal login (93) -------------------------------------------------------------------


@dataclass(frozen=True)
class LoginResult:
    terminal: Terminal | None
    locked: bool = False


def terminal_login(*, name: str, password: str, ip: str) -> LoginResult:
    """Check a terminal's name and password; failures count towards the lock-out."""
    account = _terminal_digest((name or "").strip())
    network = _network_digest(ip)
    recent = Sip2Failure.objects.filter(kind=FailureKind.LOGIN, at__gte=_since())
    if (
        recent.filter(account_digest=account, source=network).count()
        >= settings.QUIETSHELF_SIP2_LOGIN_FAILURES
    ):
        return LoginResult(None, locked=True)
    terminal = Terminal.objects.select_related("branch").filter(name=(name or "").strip()).first()
    if terminal is None:
        _dummy_check(password)
        ok = False
    else:
        ok = terminal.active and terminal.check_password(password)
    if not ok:
        with transaction.atomic(durable=True):
            _fail(FailureKind.LOGIN, account, network)
        return LoginResult(None)
    with transaction.atomic(durable=True):
        Sip2Failure.objects.filter(
            kind=FailureKind.LOGIN, account_digest=account, source=network
        ).delete()
        Terminal.objects.filter(pk=terminal.pk).update(last_login_at=timezone.now())
    return LoginResult(terminal)


# --- card + PIN (PRV-AUTH-1) ---------------------------------------------------------------


class PinOutcome:
    OK = "ok"
    UNKNOWN_CARD = "unknown_card"
    WRONG_PIN = "wrong_pin"
    NO_PIN_SET = "no_pin_set"
    LOCKED = "locked"


@dataclass(frozen=True)
class PatronCheck:
    outcome: str
    patron: object | None = None  # the Patron when the card is known (even with a wrong PIN)

    @property
    def ok(self) -> bool:
        return self.outcome == PinOutcome.OK


def patron_by_card(card: str):
    """The patron holding this active card, or None (trusted look-up by blind index)."""
    return patron_selectors.patron_by_card_barcode((card or "").strip())


def check_card_pin(*, terminal: Terminal, card: str, pin: str) -> PatronCheck:
    """Card + PIN at a terminal. Failures are counted per card at this terminal."""
    source = str(terminal.pk)
    account = _card_digest((card or "").strip())
    recent = Sip2Failure.objects.filter(kind=FailureKind.PIN, source=source, at__gte=_since())
    if (
        recent.filter(account_digest=account).count() >= settings.QUIETSHELF_SIP2_PIN_FAILURES
        or recent.count() >= settings.QUIETSHELF_SIP2_TERMINAL_PIN_FAILURES
    ):
        return PatronCheck(PinOutcome.LOCKED)
    patron = patron_by_card(card)
    if patron is None:
        _dummy_check(pin)
        with transaction.atomic(durable=True):
            _fail(FailureKind.PIN, account, source)
        return PatronCheck(PinOutcome.UNKNOWN_CARD)
    if not patron.pin_hash:
        return PatronCheck(PinOutcome.NO_PIN_SET, patron)
    if not patron.check_pin(pin or ""):
        with transaction.atomic(durable=True):
            _fail(FailureKind.PIN, account, source)
        return PatronCheck(PinOutcome.WRONG_PIN, patron)
    with transaction.atomic(durable=True):
        Sip2Failure.objects.filter(
            kind=FailureKind.PIN, account_digest=account, source=source
        ).delete()
    return PatronCheck(PinOutcome.OK, patron)
