"""Single sign-on pages under /account/sso/<provider>/ (INT-2).

- start/: OpenID Connect: to the provider's authorisation endpoint (state,
  nonce and PKCE verifier kept in the session); SAML: an AuthnRequest by
  HTTP-Redirect, its id carried in a signed RelayState (the answer comes
  back as a cross-site POST, which carries no Lax session cookie).
- callback/: the OpenID Connect redirect back.
- acs/: the SAML assertion consumer (POST).
- metadata/: the SAML service provider's metadata.

On success the patron is signed in exactly as with a password (new session
id, idle and absolute time-outs) and sent to My account.
"""

from __future__ import annotations

from django.core import signing
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from quietshelf.core.errors import DomainError
from quietshelf.patrons import auth
from quietshelf.portal.sso import config, linking, oidc

SESSION_KEY = "qs_sso_pending"


def _provider(name: str, protocol: str | None = None) -> config.Provider:
    provider = config.provider(name)
    if provider is None or (protocol and provider.protocol != protocol):
        raise Http404
    return provider


def _failed(request, message: str, status: int = 400):
    return render(request, "portal/sso_failed.html", {"message": message}, status=status)


def _finish(request, provider: config.Provider, subject: str, claims: dict):
    try:
        patron = linking.sso_patron(provider=provider, subject=subject, claims=claims)
    except DomainError as exc:
        return _failed(request, exc.message, status=exc.status_hint)
    auth.sign_in(request, patron, method=f"sso:{provider.name}")
    return redirect("account:home")


@require_GET
def start(request, name: str):
    provider = _provider(name)
    if provider.protocol == "oidc":
        conf = oidc.settings_from(provider)
        redirect_uri = request.build_absolute_uri(reverse("account:sso_callback", args=[name]))
        try:
            url, state = oidc.begin(conf, redirect_uri=redirect_uri)
        except DomainError as exc:
            return _failed(request, exc.message, status=502)
        request.session[SESSION_KEY] = {"provider": name, **state}
        return redirect(url)
    from quietshelf.portal.sso import saml

    try:
        request_id, url = saml.begin(provider, request=request)
    except DomainError as exc:
        return _failed(request, exc.message, status=502)
    del request_id  # carried inside the signed RelayState by saml.begin
    return redirect(url)


@require_GET
def callback(request, name: str):
    provider = _provider(name, "oidc")
    saved = request.session.pop(SESSION_KEY, None) or {}
    if saved.get("provider") != name:
        return _failed(request, "The sign-in could not be matched to this browser; try again.")
    conf = oidc.settings_from(provider)
    redirect_uri = request.build_absolute_uri(reverse("account:sso_callback", args=[name]))
    try:
        claims = oidc.complete(
            conf, params=request.GET.dict(), saved=saved, redirect_uri=redirect_uri
        )
    except DomainError as exc:
        return _failed(request, exc.message)
    return _finish(request, provider, str(claims.get("sub", "")), claims)


@csrf_exempt  # a SAML response is a cross-site POST, authenticated by its XML signature
@require_POST
def acs(request, name: str):
    provider = _provider(name, "saml")
    from quietshelf.portal.sso import saml

    try:
        relay = signing.loads(request.POST.get("RelayState", ""), salt=saml.RELAY_SALT, max_age=600)
    except signing.BadSignature:
        return _failed(request, "The sign-in could not be matched to a request from this site.")
    if relay.get("provider") != name:
        return _failed(request, "The sign-in could not be matched to a request from this site.")
    try:
        subject, attributes = saml.complete(
            provider,
            request=request,
            saml_response=request.POST.get("SAMLResponse", ""),
            request_id=relay.get("id", ""),
        )
    except DomainError as exc:
        return _failed(request, exc.message)
    return _finish(request, provider, subject, attributes)


@require_GET
def metadata(request, name: str):
    provider = _provider(name, "saml")
    from quietshelf.portal.sso import saml

    return HttpResponse(saml.sp_metadata(provider, request=request), content_type="text/xml")
