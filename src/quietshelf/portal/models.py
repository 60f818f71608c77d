"""Tables of the patron portal: password links, sign-in failures, SSO links.

None holds a personal value in clear: a password link keeps only the SHA-256
of its random token; a sign-in failure keeps keyed hashes (blind-index style)
of the account and of the truncated network address, never the identifier
that was typed; an SSO link keeps a keyed hash of the provider's subject id.
"""

from __future__ import annotations

import uuid

from django.db import models

from quietshelf.privacy.inventory import personal


class PasswordLinkPurpose(models.TextChoices):
    SET = "set", "Set a first password"
    RESET = "reset", "Reset a forgotten password"


class PasswordLink(models.Model):
    """A one-time link that lets a patron set their web password (single use, expiring)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    patron = models.ForeignKey(
        "patrons.Patron", on_delete=models.CASCADE, related_name="+", db_index=True
    )
    token_hash = models.CharField(max_length=64, unique=True)
    purpose = models.CharField(max_length=8, choices=PasswordLinkPurpose.choices)
    sent_by_staff = models.BooleanField(default=False)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)

    class Privacy:
        subject = "patron"
        fields = {
            "patron": personal(
                category="identifier",
                risk="low",
                purpose="knowing whose password a link sets",
                legal_basis="contract",
                source="system",
                retention="password_link",
                readers=("system",),
            ),
            "created_at": personal(
                category="account",
                risk="low",
                purpose="limiting how many password links are sent",
                legal_basis="legitimate_interest",
                source="system",
                retention="password_link",
                readers=("system",),
            ),
            "used_at": personal(
                category="account",
                risk="low",
                purpose="making each password link work once only",
                legal_basis="contract",
                source="system",
                retention="password_link",
                readers=("system",),
            ),
        }
        not_personal = {
            "token_hash": "SHA-256 of a random token (the token itself is only in the e-mail)",
            "purpose": "set or reset",
            "sent_by_staff": "whether a staff member asked for the link",
            "expires_at": "when the link stops working",
        }

    def __str__(self) -> str:
        return f"password link {self.pk}"


class SignInFailure(models.Model):
    """One failed patron sign-in, for throttling by account and network together.

    `account_digest` is a keyed hash of the patron id when the identifier
    matched an account, otherwise of the normalised identifier; `ip_digest`
    a keyed hash of the truncated address (/24, /48). Neither can be read
    back without the instance's index key, and the identifier typed is never
    stored.
    """

    account_digest = models.CharField(max_length=64)
    ip_digest = models.CharField(max_length=64)
    at = models.DateTimeField()

    class Meta:
        indexes = [
            models.Index(fields=["account_digest", "ip_digest", "at"], name="portal_fail_acct_ip"),
            models.Index(fields=["ip_digest", "at"], name="portal_fail_ip"),
        ]

    class Privacy:
        subject = "patron"
        fields = {
            "account_digest": personal(
                category="technical",
                risk="low",
                purpose="stopping password guessing (a keyed hash, not the identifier)",
                legal_basis="legitimate_interest",
                source="derived from a sign-in attempt",
                retention="sign_in_failure",
                readers=("system",),
            ),
            "ip_digest": personal(
                category="technical",
                risk="low",
                purpose="stopping password guessing (a keyed hash of the network, not the address)",
                legal_basis="legitimate_interest",
                source="derived from a sign-in attempt",
                retention="sign_in_failure",
                readers=("system",),
            ),
            "at": personal(
                category="technical",
                risk="low",
                purpose="counting recent failed sign-ins",
                legal_basis="legitimate_interest",
                source="system",
                retention="sign_in_failure",
                readers=("system",),
            ),
        }
        not_personal: dict = {}

    def __str__(self) -> str:
        return f"sign-in failure {self.pk}"


class SsoLink(models.Model):
    """A patron's account at an identity provider (OpenID Connect or SAML).

    Only a keyed hash of the provider's subject id is stored; the attributes
    mapped from the provider go to the patron record through the patrons
    services, and nothing else is kept.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    patron = models.ForeignKey("patrons.Patron", on_delete=models.CASCADE, related_name="+")
    provider = models.CharField(max_length=40)
    subject_digest = models.CharField(max_length=64)
    created_at = models.DateTimeField()
    last_used = models.DateField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["provider", "subject_digest"], name="portal_one_link_per_sso_subject"
            )
        ]

    class Privacy:
        subject = "patron"
        fields = {
            "patron": personal(
                category="identifier",
                risk="low",
                purpose="signing you in through your institution's single sign-on",
                legal_basis="contract",
                source="system",
                retention="patron_account",
                readers=("system",),
            ),
            "subject_digest": personal(
                category="identifier",
                risk="low",
                purpose="recognising you at single sign-on (a keyed hash of the provider's id)",
                legal_basis="contract",
                source="your identity provider",
                retention="patron_account",
                readers=("system",),
            ),
            "created_at": personal(
                category="account",
                risk="low",
                purpose="knowing since when single sign-on is linked",
                legal_basis="contract",
                source="system",
                retention="patron_account",
                readers=("system",),
            ),
            "last_used": personal(
                category="account",
                risk="low",
                purpose="removing unused links (a day, not a moment)",
                legal_basis="legitimate_interest",
                source="system",
                retention="patron_account",
                readers=("system",),
            ),
        }
        not_personal = {"provider": "the configured provider's short name"}

    def __str__(self) -> str:
        return f"sso link {self.pk}"
