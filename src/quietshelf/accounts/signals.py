"""Sign-in and sign-out bookkeeping: remember session keys, end them all at sign-out."""

from __future__ import annotations

from django.contrib.auth.signals import user_logged_in, user_logged_out
from django.dispatch import receiver

from quietshelf.accounts import sessions


@receiver(user_logged_in, dispatch_uid="quietshelf_accounts_logged_in")
def on_logged_in(sender, request, user, **kwargs):
    if request is None or not hasattr(request, "session"):
        return
    request.session[sessions.SEEN] = sessions.now()
    if request.session.session_key is None:
        request.session.save()
    sessions.remember(user, request.session.session_key)


@receiver(user_logged_out, dispatch_uid="quietshelf_accounts_logged_out")
def on_logged_out(sender, request, user, **kwargs):
    if request is None or user is None:
        return
    session_key = getattr(getattr(request, "session", None), "session_key", None)
    if getattr(request, sessions.KEEP_OTHERS, False):
        sessions.forget(session_key)
        return
    sessions.end_all_sessions(user)
