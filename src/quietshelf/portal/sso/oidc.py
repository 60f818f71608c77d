"""An OpenID Connect relying party: authorisation code flow with PKCE (RFC 7636).

`begin()` gives the URL to send the browser to and the state to keep in the
session (state, nonce, PKCE verifier). `complete()` checks the state,
exchanges the code at the token endpoint (client_secret_basic), and verifies
the ID token with joserfc: signature against the provider's JWKS, issuer,
audience, expiry, issued-at and nonce. It returns the verified claims.

Nothing here knows about patrons (staff sign-in can use it too). Discovery
documents and key sets are cached for an hour; an unknown key id fetches the
key set again once (key rotation).
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from joserfc.jwt import JWTClaimsRegistry

from quietshelf.core.errors import DomainError

ALGORITHMS = ["RS256", "PS256", "ES256"]
CACHE_SECONDS = 3600
_cache: dict[str, tuple[float, dict]] = {}


class SsoError(DomainError):
    code = "sso_failed"
    status_hint = 400


@dataclass(frozen=True)
class OidcSettings:
    issuer: str
    client_id: str
    client_secret: str
    scopes: tuple[str, ...] = ("openid", "email", "profile")
    discovery_url: str = ""
    timeout: float = 10.0


def settings_from(provider) -> OidcSettings:
    scopes = provider.option("scopes") or ["openid", "email", "profile"]
    if isinstance(scopes, str):
        scopes = scopes.split()
    if "openid" not in scopes:
        scopes = ["openid", *scopes]
    return OidcSettings(
        issuer=str(provider.option("issuer")).rstrip("/"),
        client_id=str(provider.option("client_id")),
        client_secret=str(provider.option("client_secret") or ""),
        scopes=tuple(scopes),
        discovery_url=str(provider.option("discovery_url") or ""),
        timeout=float(provider.option("timeout") or 10),
    )


def _fetch_json(url: str, *, timeout: float, data: bytes | None = None, headers=None) -> dict:
    if not url.startswith(("https://", "http://")):
        raise SsoError("The sign-in service is misconfigured (not an http(s) URL).")
    request = urllib.request.Request(url, data=data, headers=headers or {})  # noqa: S310
    request.add_header("Accept", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            body = response.read(1_000_000)
    except urllib.error.HTTPError as exc:
        raise SsoError(f"The sign-in service refused the request (HTTP {exc.code}).") from None
    except (urllib.error.URLError, TimeoutError, OSError):
        raise SsoError("The sign-in service could not be reached.") from None
    try:
        data = json.loads(body)
    except ValueError:
        raise SsoError("The sign-in service answered with something that is not JSON.") from None
    if not isinstance(data, dict):
        raise SsoError("The sign-in service answered with something unexpected.")
    return data


def _cached(url: str, *, timeout: float, refresh: bool = False) -> dict:
    now = time.monotonic()
    hit = _cache.get(url)
    if hit and not refresh and now - hit[0] < CACHE_SECONDS:
        return hit[1]
    data = _fetch_json(url, timeout=timeout)
    _cache[url] = (now, data)
    return data


def metadata(conf: OidcSettings) -> dict:
    url = conf.discovery_url or f"{conf.issuer}/.well-known/openid-configuration"
    meta = _cached(url, timeout=conf.timeout)
    if str(meta.get("issuer", "")).rstrip("/") != conf.issuer:
        raise SsoError("The sign-in service names a different issuer than configured.")
    for key in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
        if not meta.get(key):
            raise SsoError(f"The sign-in service's metadata lacks {key}.")
    return meta


def _pkce_challenge(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def begin(conf: OidcSettings, *, redirect_uri: str) -> tuple[str, dict]:
    """The authorisation URL and the state to keep in the session until the callback."""
    meta = metadata(conf)
    state = {
        "state": secrets.token_urlsafe(24),
        "nonce": secrets.token_urlsafe(24),
        "verifier": secrets.token_urlsafe(48),
        "started": int(time.time()),
    }
    query = urllib.parse.urlencode(
        {
            "response_type": "code",
            "client_id": conf.client_id,
            "redirect_uri": redirect_uri,
            "scope": " ".join(conf.scopes),
            "state": state["state"],
            "nonce": state["nonce"],
            "code_challenge": _pkce_challenge(state["verifier"]),
            "code_challenge_method": "S256",
        }
    )
    endpoint = meta["authorization_endpoint"]
    joiner = "&" if "?" in endpoint else "?"
    return f"{endpoint}{joiner}{query}", state


def _key_set(meta: dict, *, timeout: float, refresh: bool = False) -> KeySet:
    try:
        return KeySet.import_key_set(_cached(meta["jwks_uri"], timeout=timeout, refresh=refresh))
    except (JoseError, ValueError, KeyError, TypeError):
        raise SsoError("The sign-in service's keys cannot be read.") from None


def complete(conf: OidcSettings, *, params: dict, saved: dict, redirect_uri: str) -> dict:
    """Verify the callback and return the ID token's claims."""
    if not saved or not secrets.compare_digest(
        str(params.get("state", "")), str(saved.get("state", ""))
    ):
        raise SsoError("The sign-in could not be matched to this browser; please try again.")
    if time.time() - int(saved.get("started", 0)) > 600:
        raise SsoError("The sign-in took too long; please try again.")
    if params.get("error"):
        raise SsoError("The sign-in service did not sign you in.")
    code = str(params.get("code", ""))
    if not code or len(code) > 2000:
        raise SsoError("The sign-in service sent no code.")
    meta = metadata(conf)
    basic = base64.b64encode(
        f"{urllib.parse.quote(conf.client_id, safe='')}:"
        f"{urllib.parse.quote(conf.client_secret, safe='')}".encode()
    ).decode()
    tokens = _fetch_json(
        meta["token_endpoint"],
        timeout=conf.timeout,
        data=urllib.parse.urlencode(
            {
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": redirect_uri,
                "code_verifier": saved["verifier"],
            }
        ).encode(),
        headers={
            "Authorization": f"Basic {basic}",
            "Content-Type": "application/x-www-form-urlencoded",
        },
    )
    id_token = tokens.get("id_token")
    if not isinstance(id_token, str):
        raise SsoError("The sign-in service sent no ID token.")
    try:
        token = jwt.decode(id_token, _key_set(meta, timeout=conf.timeout), algorithms=ALGORITHMS)
    except JoseError:
        # perhaps the keys were rotated: fetch them once more
        try:
            token = jwt.decode(
                id_token,
                _key_set(meta, timeout=conf.timeout, refresh=True),
                algorithms=ALGORITHMS,
            )
        except JoseError:
            raise SsoError("The ID token's signature is not valid.") from None
    registry = JWTClaimsRegistry(
        leeway=60,
        iss={"essential": True, "value": meta["issuer"]},
        aud={"essential": True, "value": conf.client_id},
        sub={"essential": True},
        exp={"essential": True},
        iat={"essential": True},
        nonce={"essential": True, "value": saved["nonce"]},
    )
    try:
        registry.validate(token.claims)
    except JoseError:
        raise SsoError("The ID token is not valid for this site.") from None
    claims = dict(token.claims)
    if isinstance(claims.get("aud"), list) and len(claims["aud"]) > 1:
        if claims.get("azp") != conf.client_id:
            raise SsoError("The ID token is not valid for this site.")
    return claims
