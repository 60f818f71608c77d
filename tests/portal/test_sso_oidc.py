"""Patron sign-in through OpenID Connect against a real provider on loopback (INT-2).

The provider (tests/portal/oidc_provider.py) runs an HTTP server in
the test; the site talks to it over HTTP for discovery, the token exchange
and its keys, and the test plays the browser between the two.
"""

from __future__ import annotations

import urllib.error
import urllib.parse
import urllib.request

import pytest
from django.db import connection

from quietshelf.patrons import services as patron_services
from quietshelf.patrons.auth import SESSION_PATRON
from quietshelf.patrons.models import ContactPoint, Patron, PatronIdentifier
from quietshelf.portal.models import SsoLink

from .oidc_provider import TinyOpenIDProvider

pytestmark = pytest.mark.django_db

CLIENT_ID = "quietshelf-test"
CLIENT_SECRET = "op-secret-for-tests"


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


@pytest.fixture
def op(settings):
    provider = TinyOpenIDProvider(client_id=CLIENT_ID, client_secret=CLIENT_SECRET).start()
    settings.QUIETSHELF_PATRON_SSO = [
        {
            "name": "campus",
            "label": "Campus login",
            "protocol": "oidc",
            "issuer": provider.issuer,
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "scopes": ["openid", "email", "profile"],
            "match_attribute": "employee_number",
            "attributes": {
                "given_name": "given_name",
                "family_name": "family_name",
                "email": "email",
            },
        }
    ]
    provider.user = {
        "sub": "op-subject-4417",
        "employee_number": "E-77001",
        "given_name": "Ingrid",
        "family_name": "Fjeld",
        "email": "ingrid.fjeld@campus.example.edu",
        "phone_number": "+47 955 55 555",  # offered, but not mapped: never stored
        "birthdate": "1990-04-01",  # offered, but not mapped: never stored
    }
    yield provider
    provider.stop()


@pytest.fixture
def campus_patron(db):
    return patron_services.patron_register(
        actor=None,
        given_name="Ingrid",
        family_name="Fjell",
        identifiers=[("institutional_id", "E-77001")],
        email="ingrid.old@example.org",
    )


def _browser_through_provider(client, start="/account/sso/campus/start/"):
    """Start at our site, let the provider answer, come back with its redirect."""
    response = client.get(start)
    assert response.status_code == 302, response.content[:300]
    opener = urllib.request.build_opener(_NoRedirect)
    try:
        opener.open(response["Location"], timeout=10)
    except urllib.error.HTTPError as exc:
        assert exc.code == 302
        back = exc.headers["Location"]
    else:  # pragma: no cover
        raise AssertionError("the provider did not redirect back")
    parts = urllib.parse.urlsplit(back)
    assert parts.path == "/account/sso/campus/callback/"
    return client.get(f"{parts.path}?{parts.query}")


def test_sign_in_button_shown_for_configured_provider(client, op):
    body = client.get("/account/sign-in/").content.decode()
    assert "Campus login" in body
    assert "/account/sso/campus/start/" in body


def test_oidc_sign_in_matches_institutional_id_int_2(client, op, campus_patron):
    response = _browser_through_provider(client)
    assert response.status_code == 302
    assert response["Location"] == "/account/"
    assert client.session[SESSION_PATRON] == str(campus_patron.pk)
    assert client.get("/account/").status_code == 200
    # the mapped attributes were stored ...
    patron = Patron.objects.get(pk=campus_patron.pk)
    assert patron.family_name == "Fjeld"
    emails = [str(c.value) for c in ContactPoint.objects.filter(patron=patron, kind="email")]
    assert emails == ["ingrid.fjeld@campus.example.edu"]
    # ... and nothing else: the phone number and birth date offered were dropped
    assert not ContactPoint.objects.filter(patron=patron, kind="phone").exists()
    assert patron.date_of_birth is None
    link = SsoLink.objects.get(patron=patron)
    assert link.provider == "campus"
    assert "op-subject-4417" not in link.subject_digest


def test_oidc_provider_subject_never_stored_in_clear_int_2(client, op, campus_patron):
    _browser_through_provider(client)
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor):
            cursor.execute(f'SELECT * FROM "{table}"')  # noqa: S608 - names from introspection
            for row in cursor.fetchall():
                for value in row:
                    if isinstance(value, memoryview | bytes):
                        value = bytes(value).decode("latin-1")
                    if isinstance(value, str):
                        assert "op-subject-4417" not in value, table
                        assert "+47 955" not in value, table
                        assert "1990-04-01" not in value, table


def test_second_sign_in_uses_the_link(client, op, campus_patron):
    _browser_through_provider(client)
    client.post("/account/sign-out/")
    op.user["employee_number"] = "E-CHANGED"  # the link holds; the match is not needed again
    response = _browser_through_provider(client)
    assert response.status_code == 302
    assert client.session[SESSION_PATRON] == str(campus_patron.pk)
    assert SsoLink.objects.count() == 1


def test_no_matching_patron_is_refused(client, op):
    response = _browser_through_provider(client)
    assert response.status_code == 403
    assert "No library account matches" in response.content.decode()
    assert SESSION_PATRON not in client.session
    assert not Patron.objects.exists()


def test_provider_may_create_patrons_when_configured(client, op, settings):
    settings.QUIETSHELF_PATRON_SSO[0]["create_patrons"] = True
    response = _browser_through_provider(client)
    assert response.status_code == 302
    patron = Patron.objects.get()
    assert (patron.given_name, patron.family_name) == ("Ingrid", "Fjeld")
    ident = PatronIdentifier.objects.get(patron=patron)
    assert (ident.type, ident.value) == ("institutional_id", "E-77001")
    assert not ContactPoint.objects.filter(patron=patron, kind="phone").exists()


@pytest.mark.parametrize("fault", ["foreign_key", "nonce", "audience", "expired"])
def test_bad_id_tokens_are_refused_int_2(client, op, campus_patron, fault):
    op.misbehave.add(fault)
    response = _browser_through_provider(client)
    assert response.status_code == 400
    assert SESSION_PATRON not in client.session
    assert op.token_requests == 1


def test_callback_with_wrong_state_is_refused(client, op, campus_patron):
    client.get("/account/sso/campus/start/")
    response = client.get("/account/sso/campus/callback/?code=abc&state=forged")
    assert response.status_code == 400
    assert SESSION_PATRON not in client.session
    assert op.token_requests == 0


def test_unknown_provider_is_404(client, op):
    assert client.get("/account/sso/nowhere/start/").status_code == 404
