"""Staff accounts.

The user model holds no name or email: a staff member is known to the system
by a username only. Personal details of staff, roles, MFA and SSO arrive with
the patrons-and-staff work and go through the privacy kernel.
"""

from __future__ import annotations

import uuid

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
from django.db import models


class StaffUserManager(BaseUserManager):
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
    username = models.CharField(max_length=150, unique=True)
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    USERNAME_FIELD = "username"
    REQUIRED_FIELDS: list[str] = []

    objects = StaffUserManager()

    def __str__(self) -> str:
        return f"staff:{self.pk}"
