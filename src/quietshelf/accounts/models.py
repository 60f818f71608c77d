"""Staff accounts.

The user model holds no name or email: a staff member is known to the system
by a username only, and even that is personal data: it is stored encrypted
under the staff member's own data key, and found at sign-in through a blind
index (HMAC of the case-folded username). `StaffUser.objects.filter(username=…)`
still works: the query set turns it into a look-up on the index. Personal
details of staff, roles, MFA and SSO arrive later and go through the kernel.
"""

from __future__ import annotations

import uuid

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
from django.db import models

from quietshelf.privacy.fields import BlindIndexField, EncryptedTextField, SubjectField
from quietshelf.privacy.inventory import personal

_INDEXED_LOOKUPS = {"username": "", "username__exact": "", "username__iexact": ""}


class StaffUserQuerySet(models.QuerySet):
    """Turns username look-ups into blind-index look-ups (the username is encrypted)."""

    def _filter_or_exclude(self, negate, args, kwargs):
        if any(key.startswith("username") for key in kwargs):
            kwargs = dict(kwargs)
            index = self.model._meta.get_field("username_index")
            for key in list(kwargs):
                if key in _INDEXED_LOOKUPS:
                    kwargs["username_index"] = index.digest(kwargs.pop(key))
                elif key == "username__in":
                    kwargs["username_index__in"] = [index.digest(v) for v in kwargs.pop(key)]
                elif key.startswith("username__") or key == "username":
                    raise models.FieldError(
                        "the username is encrypted: only exact (case-insensitive) look-ups work"
                    )
        return super()._filter_or_exclude(negate, args, kwargs)


class StaffUserManager(BaseUserManager.from_queryset(StaffUserQuerySet)):
    def create_user(self, username: str, password: str | None = None, **extra):
        if not username:
            raise ValueError("A staff account needs a username")
        user = self.model(username=username, **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, username: str, password: str | None = None, **extra):
        extra.setdefault("is_superuser", True)
        extra.setdefault("is_staff", True)
        return self.create_user(username, password, **extra)


class StaffUser(AbstractBaseUser, PermissionsMixin):
    """A person who signs in to the staff interface."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    subject = SubjectField(kind="staff")
    username = EncryptedTextField(max_length=150)
    username_index = BlindIndexField(source="username", normalizer="username", unique=True)
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    USERNAME_FIELD = "username"
    REQUIRED_FIELDS: list[str] = []

    objects = StaffUserManager()

    class Privacy:
        subject = "staff"
        fields = {
            "username": personal(
                category="identifier",
                risk="medium",
                purpose="signing in to the staff interface",
                legal_basis="contract",
                source="chosen by an administrator",
                retention="staff_account",
                readers=("administrator", "privacy_office"),
            ),
            "username_index": personal(
                category="identifier",
                risk="low",
                purpose="finding the account at sign-in without storing the username in clear",
                legal_basis="contract",
                source="derived from the username",
                retention="staff_account",
                readers=("system",),
            ),
            "password": personal(
                category="credential",
                risk="high",
                purpose="signing in (an Argon2id hash, never the password)",
                legal_basis="contract",
                source="the staff member",
                retention="staff_account",
                readers=("system",),
            ),
            "last_login": personal(
                category="account",
                risk="low",
                purpose="spotting unused accounts",
                legal_basis="legitimate_interest",
                source="system",
                retention="staff_account",
                readers=("administrator", "privacy_office"),
            ),
            "subject": personal(
                category="identifier",
                risk="low",
                purpose="the key that encrypts this staff member's data",
                legal_basis="contract",
                source="system",
                retention="staff_account",
                readers=("system",),
            ),
        }
        not_personal: dict = {}

    def __str__(self) -> str:
        return f"staff:{self.pk}"
