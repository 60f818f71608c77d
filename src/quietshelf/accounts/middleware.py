"""StaffSessionMiddleware (after AuthenticationMiddleware), SEC-SES-1 and PRV-ACC-2.

- Sets `request.user.mfa_verified` from the session (services receive
  request.user as actor; accounts.roles reads it). No query.
- Idle timeout: a signed-in session unused for QUIETSHELF_SESSION_IDLE_SECONDS
  is ended (this session only) and the person is sent to the sign-in page.
  The absolute limit is SESSION_COOKIE_AGE (the session expires then).
"""

from __future__ import annotations

from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth import logout
from django.shortcuts import redirect
from django.urls import reverse

from quietshelf.accounts import sessions

TOUCH_EVERY = 60  # seconds between writes of the last-seen time


class StaffSessionMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self._check(request)
        return response if response is not None else self.get_response(request)

    def _check(self, request):
        session = getattr(request, "session", None)
        user = getattr(request, "user", None)
        if session is None or user is None:
            return None
        if not session.get("_auth_user_id"):  # no query for anonymous visitors
            return None
        if not user.is_authenticated:
            return None
        now = sessions.now()
        seen = session.get(sessions.SEEN)
        idle = settings.QUIETSHELF_SESSION_IDLE_SECONDS
        if seen is not None and now - float(seen) > idle:
            setattr(request, sessions.KEEP_OTHERS, True)
            logout(request)
            if request.path.startswith("/staff/"):
                login = reverse("staff:login")
                target = request.get_full_path() if request.method == "GET" else "/staff/"
                return redirect(f"{login}?{urlencode({'next': target, 'idle': 1})}")
            return None
        if seen is None or now - float(seen) > TOUCH_EVERY:
            session[sessions.SEEN] = now
        # The real object, not Django's lazy wrapper: services get it as actor and
        # assign it to foreign keys (a SimpleLazyObject trips the database router).
        real = getattr(user, "_wrapped", user)
        real.mfa_verified = bool(session.get(sessions.MFA))
        request.user = real
        return None
