"""Sign-in for staff: Django's ModelBackend, finding the account by its username's blind index.

The username is encrypted (accounts/models.py), so the model's USERNAME_FIELD
is not unique in the database; uniqueness lives on `username_index`. Naming
this backend in AUTHENTICATION_BACKENDS turns Django's auth.E003 into the
warning auth.W004, which settings silence for that reason.
"""

from __future__ import annotations

from django.contrib.auth.backends import ModelBackend


class StaffBackend(ModelBackend):
    """ModelBackend; StaffUser.objects.get_by_natural_key looks up the blind index."""
