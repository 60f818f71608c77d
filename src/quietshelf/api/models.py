"""API tokens for staff writes.

Only a SHA-256 hash of each token is stored: the token itself is shown once
when it is made and can never be read back. `last_used` is a day, not a
moment, so the table is no fine-grained record of a staff member's activity.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models


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

    class Meta:
        ordering = ["-created", "-id"]

    def __str__(self) -> str:
        return f"api token {self.pk}"
