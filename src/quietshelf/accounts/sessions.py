"""Session bookkeeping for staff (SEC-SES-1): keys kept in the session, ending sessions."""

from __future__ import annotations

import time

from django.contrib.sessions.models import Session

MFA = "qs_mfa"  # True once the second factor was checked in this session
PASSWORD_AT = "qs_password_at"  # noqa: S105 - when the password was last checked (epoch seconds)
FACTOR_AT = "qs_factor_at"  # when the second factor was last checked
SEEN = "qs_seen"  # last request, for the idle timeout
PENDING = "qs_pending"  # password checked, second factor still to come
KEEP_OTHERS = "_qs_keep_other_sessions"  # request attribute: end only this session


def now() -> float:
    return time.time()


def end_all_sessions(user, *, except_key: str | None = None) -> int:
    """Delete every stored session of `user` (but `except_key`)."""
    from quietshelf.accounts.models import StaffSession

    rows = StaffSession.objects.filter(user_id=user.pk)
    if except_key:
        rows = rows.exclude(session_key=except_key)
    keys = list(rows.values_list("session_key", flat=True))
    Session.objects.filter(session_key__in=keys).delete()
    rows.delete()
    return len(keys)


def remember(user, session_key: str) -> None:
    from quietshelf.accounts.models import StaffSession

    if not session_key:
        return
    StaffSession.objects.update_or_create(session_key=session_key, defaults={"user": user})
    # Drop bookkeeping rows whose session has already gone (expired, cleared).
    live = Session.objects.filter(
        session_key__in=StaffSession.objects.filter(user_id=user.pk).values("session_key")
    ).values("session_key")
    StaffSession.objects.filter(user_id=user.pk).exclude(session_key__in=live).delete()


def forget(session_key: str) -> None:
    from quietshelf.accounts.models import StaffSession

    if session_key:
        StaffSession.objects.filter(session_key=session_key).delete()
