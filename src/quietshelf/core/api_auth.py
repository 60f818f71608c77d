"""Who may write through the API.

Staff writes take a bearer token (`Authorization: Bearer qs_…`, made by
`quietshelf create-api-token`). A signed-in staff session works too, for
pages that call the API, and then the CSRF token is checked. Reads of the
public catalogue need neither.

Here in core, under every app, because every app's router takes it (catalog's among
them, which sits below accounts). The tokens themselves are the api app's: it registers
the function that finds a token's owner from its AppConfig.ready(), so core imports no
app (docs/dev/architecture.md, #14).
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from ninja.security import HttpBearer
from ninja.security.apikey import APIKeyCookie

from quietshelf.core.errors import PermissionDenied

# fn(*, raw_token) -> the token's owner (a staff user) or None: api.services.
TOKEN_AUTHENTICATORS: list[Callable] = []


def register_token_authenticator(authenticator: Callable) -> Callable:
    if authenticator not in TOKEN_AUTHENTICATORS:
        TOKEN_AUTHENTICATORS.append(authenticator)
    return authenticator


def _token_owner(raw_token: str):
    for authenticator in TOKEN_AUTHENTICATORS:
        return authenticator(raw_token=raw_token)
    return None  # no token store installed: no token is valid


class BearerToken(HttpBearer):
    def authenticate(self, request, token: str):
        user = _token_owner(token.strip())
        if user is not None:
            # Services and audit entries see the token's owner as the actor.
            request.user = user
        return user


class StaffSession(APIKeyCookie):
    """Django's session, with the CSRF check, but only once someone is signed in.

    (ninja's SessionAuth checks CSRF first, which would answer 403 to a caller
    who has simply not authenticated; they get 401 here.)
    """

    param_name = settings.SESSION_COOKIE_NAME

    def _get_key(self, request):
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return None
        return super()._get_key(request)

    def authenticate(self, request, key):
        user = request.user
        return user if user.is_authenticated and user.is_active else None


staff_auth = [BearerToken(), StaffSession()]


def require_perm(request, perm: str) -> None:
    """403 unless the authenticated staff member holds this permission."""
    user = request.auth
    if not (user.is_active and user.is_staff and user.has_perm(perm)):
        raise PermissionDenied(
            "Your account may not do this.", code="forbidden", details={"permission": perm}
        )
