"""SIP2 terminal accounts and the failure counters behind their lock-outs.

A terminal account is a machine's login (self-check kiosk, return sorter):
its name and Argon2id password hash, the branch it stands in, the messages
it may send and what it may be told about a patron (docs/sip2.md). It
holds no personal data. A failure row keeps keyed hashes only, like the
patron portal's sign-in failures: never a card number or a PIN.
"""

from __future__ import annotations

from django.contrib.auth.hashers import check_password, make_password
from django.db import models
from django.utils.translation import gettext_lazy as _

from quietshelf.privacy.inventory import personal
from quietshelf.sip2.protocol.fields import GRANTABLE


class PatronName(models.TextChoices):
    FULL = "full", _("Full name")
    FIRST = "first", _("First name only")
    NONE = "none", _("No name")


class Terminal(models.Model):
    """One SIP2 terminal account (a machine, not a person)."""

    name = models.CharField(_("login name"), max_length=64, unique=True)
    password_hash = models.CharField(max_length=200)
    branch = models.ForeignKey("catalog.Branch", on_delete=models.PROTECT, related_name="+")
    # AO sent back to the terminal; blank: the branch code.
    institution_id = models.CharField(max_length=64, blank=True)
    # Comma-separated message codes this terminal may send (93, 99 and 97 always).
    allowed_messages = models.CharField(max_length=64, default=",".join(GRANTABLE))
    patron_name = models.CharField(
        max_length=8, choices=PatronName.choices, default=PatronName.FIRST
    )
    # Titles in Patron Information item lists (PRV-NOT-1): off unless allowed.
    send_titles = models.BooleanField(default=False)
    # Card + PIN (INT-1): off only for a sorter or a staff-attended station.
    require_pin = models.BooleanField(default=True)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_login_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name"]

    class Privacy:  # reviewed: a machine's account, no person's data
        not_personal = {
            "name": "the login name of a machine",
            "password_hash": "an Argon2id hash of a machine's password",
            "institution_id": "the library's SIP2 institution code",
            "allowed_messages": "message codes",
            "patron_name": "a setting",
            "last_login_at": "when the machine last logged in",
        }

    def __str__(self) -> str:
        return self.name

    def set_password(self, raw: str) -> None:
        self.password_hash = make_password(raw)

    def check_password(self, raw: str) -> bool:
        return bool(raw) and check_password(raw, self.password_hash)

    @property
    def allowed(self) -> frozenset[str]:
        return frozenset(c for c in self.allowed_messages.split(",") if c)


class FailureKind(models.TextChoices):
    LOGIN = "login", "Terminal login"
    PIN = "pin", "Patron PIN"


class Sip2Failure(models.Model):
    """One failed terminal login or patron PIN, for lock-outs.

    Login: `account_digest` is a keyed hash of the terminal name, `source`
    a keyed hash of the truncated network address. PIN: `account_digest` a
    keyed hash of the card number, `source` the terminal's id, so that
    guessing at one terminal locks that card at that terminal only.
    """

    kind = models.CharField(max_length=8, choices=FailureKind.choices)
    account_digest = models.CharField(max_length=64)
    source = models.CharField(max_length=64)
    at = models.DateTimeField()

    class Meta:
        indexes = [
            models.Index(fields=["kind", "account_digest", "source", "at"], name="sip2_fail_acct"),
            models.Index(fields=["kind", "source", "at"], name="sip2_fail_source"),
        ]

    class Privacy:
        subject = "patron"
        fields = {
            "account_digest": personal(
                category="technical",
                risk="low",
                purpose="stopping PIN guessing at self-check machines (a keyed hash of the card)",
                legal_basis="legitimate_interest",
                source="derived from a SIP2 message",
                retention="sign_in_failure",
                readers=("system",),
            ),
            "at": personal(
                category="technical",
                risk="low",
                purpose="counting recent failed PINs",
                legal_basis="legitimate_interest",
                source="system",
                retention="sign_in_failure",
                readers=("system",),
            ),
        }
        not_personal = {
            "kind": "login or PIN",
            "source": "a terminal id or a keyed hash of a terminal's network",
        }

    def __str__(self) -> str:
        return f"sip2 failure {self.pk}"
