"""Patron sign-in on the public site, kept apart from staff authentication.

Staff sign in through django.contrib.auth (StaffUser); patrons do not have a
Django user at all. A signed-in patron is a few keys in Django's session:

- ``qs_patron``: the patron's id;
- ``qs_patron_hash``: an HMAC of the patron's password hash (or of their SSO
  link), so changing the password signs out every other session;
- ``qs_patron_started`` / ``qs_patron_seen``: when the session began and when
  it was last used, to the minute, for the absolute and the idle time-out
  (SEC-SES-1; never to the second, PRV-HIST-5).

`sign_in` rotates the session key (a new session id: no fixation), `sign_out`
flushes the whole session. `PatronMiddleware` sets ``request.patron`` (the
Patron, or None).
"""

from __future__ import annotations

import functools
import time
from urllib.parse import urlencode

from django.conf import settings
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.crypto import constant_time_compare, salted_hmac
from ninja.security.apikey import APIKeyCookie

SESSION_PATRON = "qs_patron"
SESSION_HASH = "qs_patron_hash"
SESSION_STARTED = "qs_patron_started"
SESSION_SEEN = "qs_patron_seen"
SESSION_METHOD = "qs_patron_method"
SESSION_REAUTH = "qs_patron_reauth"
SESSION_POLICY = "qs_patron_policy"
_KEYS = (
    SESSION_PATRON,
    SESSION_HASH,
    SESSION_STARTED,
    SESSION_SEEN,
    SESSION_METHOD,
    SESSION_REAUTH,
    SESSION_POLICY,
)


def idle_seconds() -> int:
    return int(getattr(settings, "QUIETSHELF_PATRON_IDLE_SECONDS", 1800))


def max_seconds() -> int:
    return int(getattr(settings, "QUIETSHELF_PATRON_SESSION_MAX_SECONDS", 8 * 3600))


def session_hash(patron) -> str:
    """Changes whenever the patron's password changes: older sessions stop working."""
    from quietshelf.patrons import selectors

    secret = selectors.password_hash_of(patron) or f"no-password:{patron.pk}"
    return salted_hmac("quietshelf.patron-session", secret, algorithm="sha256").hexdigest()


def sign_in(request, patron, *, method: str = "password") -> None:
    """Start a patron session: new session id, the patron's id and the auth hash."""
    session = request.session
    if session.get(SESSION_PATRON) not in (None, str(patron.pk)):
        session.flush()  # someone else was signed in here: start clean
    else:
        session.cycle_key()
    now = _minute(int(time.time()))
    session[SESSION_PATRON] = str(patron.pk)
    session[SESSION_HASH] = session_hash(patron)
    session[SESSION_STARTED] = now
    session[SESSION_SEEN] = now
    session[SESSION_METHOD] = method
    # A material privacy policy change not yet acknowledged is asked for first (PRV-POL-1).
    from quietshelf.privacy.models import ActorType
    from quietshelf.privacy.services import pending_material_policy

    pending = pending_material_policy(actor_type=ActorType.PATRON, actor_id=str(patron.pk))
    if pending is not None:
        session[SESSION_POLICY] = pending.pk
    request.patron = patron


def sign_out(request) -> None:
    """End the session entirely (patron and anything else in it)."""
    request.session.flush()
    request.patron = None


def refresh_hash(request, patron) -> None:
    """After this session changed the password: keep it signed in, with a new id."""
    request.session.cycle_key()
    request.session[SESSION_HASH] = session_hash(patron)


def mark_reauthenticated(request) -> None:
    request.session[SESSION_REAUTH] = int(time.time())


def get_patron(request):
    """The signed-in patron, or None (and the patron keys dropped when stale)."""
    session = getattr(request, "session", None)
    if session is None:
        return None
    patron_id = session.get(SESSION_PATRON)
    if not patron_id:
        return None
    now = int(time.time())
    started = int(session.get(SESSION_STARTED) or 0)
    seen = int(session.get(SESSION_SEEN) or 0)
    if now - started > max_seconds() or now - seen > idle_seconds():
        _drop(session)
        return None
    from quietshelf.patrons import selectors

    patron = selectors.patron_for_session(patron_id=patron_id)
    if patron is None or not constant_time_compare(
        session.get(SESSION_HASH, ""), session_hash(patron)
    ):
        _drop(session)
        return None
    if _minute(now) > seen:  # the idle clock, in whole minutes (written at most once a minute)
        session[SESSION_SEEN] = _minute(now)
    return patron


def _minute(seconds: int) -> int:
    """Session times are kept to the minute, never the second (PRV-HIST-5): a seen-time
    cannot be matched with the moment a hold was placed or a loan made."""
    return seconds - seconds % 60


def _drop(session) -> None:
    for key in _KEYS:
        session.pop(key, None)


class PatronMiddleware:
    """Sets request.patron: the signed-in Patron or None.

    Without a session cookie nothing is read; with one, the session row is
    read once (as Django's auth does) and the patron only when signed in.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.patron = get_patron(request)
        return self.get_response(request)


# --- what the patron's pages and routers ask of the session ------------------------------
# Here, below every face that serves a signed-in patron (the portal, the notices and privacy
# pages under /account/, circulation's /me router), so none of them imports the portal.


def patron_required(view):
    """A page for a signed-in patron: others go to sign-in, and to the policy when a new
    one waits for their acceptance."""

    @functools.wraps(view)
    def wrapper(request, *args, **kwargs):
        if getattr(request, "patron", None) is None:
            query = urlencode({"next": request.path})
            return redirect(f"{reverse('account:sign_in')}?{query}")
        if request.session.get(SESSION_POLICY):
            query = urlencode({"next": request.path})
            return redirect(f"{reverse('account:policy')}?{query}")
        return view(request, *args, **kwargs)

    return wrapper


class PatronSession(APIKeyCookie):
    """The signed-in patron from Django's session, for the API's patron routes."""

    param_name = settings.SESSION_COOKIE_NAME

    def _get_key(self, request):
        # No signed-in patron: 401, before ninja's CSRF check could answer 403
        # to someone who has simply not signed in (the API docs promise 401).
        if getattr(request, "patron", None) is None:
            return None
        return super()._get_key(request)

    def authenticate(self, request, key):
        return getattr(request, "patron", None)


patron_auth = PatronSession()
