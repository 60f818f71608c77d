"""API tokens for staff writes.

Only a SHA-256 hash of each token is stored: the token itself is shown once
when it is made and can never be read back. `last_used` is a day, not a
moment, so the table is no fine-grained record of a staff member's activity.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from quietshelf.privacy.inventory import personal


class ApiToken(models.Model):
    """A bearer token a staff member uses to write through the REST API."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(max_length=100, blank=True)  # a label chosen by the owner
    token_hash = models.CharField(max_length=64, unique=True)  # SHA-256 hex of the token
    created = models.DateField()
    last_used = models.DateField(null=True, blank=True)
    revoked = models.BooleanField(default=False)
    # The permissions this token may use: those of the roles chosen when it
    # was made (a subset of its owner's), never more than the owner holds now.
    permissions = models.JSONField(default=list, blank=True)
    # Reaches patron data only when made for an owner with a second factor
    # enrolled; the token then stands in for the MFA-verified session.
    personal_data = models.BooleanField(default=False)

    class Meta:
        ordering = ["-created", "-id"]

    class Privacy:
        subject = "staff"
        fields = {
            "owner": personal(
                category="identifier",
                risk="low",
                purpose="knowing which staff member an API token acts as",
                legal_basis="contract",
                source="system",
                retention="api_token",
                readers=("administrator",),
            ),
            "last_used": personal(
                category="account",
                risk="low",
                purpose="spotting unused API tokens (a day, not a moment)",
                legal_basis="legitimate_interest",
                source="system",
                retention="api_token",
                readers=("administrator",),
            ),
        }
        not_personal = {
            "name": "a label for the token chosen by its owner",
            "token_hash": "SHA-256 of a random token; the token itself is never stored",
            "created": "the day the token was made",
            "revoked": "whether the token still works",
            "permissions": "permission names the token may use",
            "personal_data": "whether the token may reach patron data",
        }

    def __str__(self) -> str:
        return f"api token {self.pk}"
