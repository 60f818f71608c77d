"""Patron sign-in through SAML 2.0 against a real pysaml2 IdP on loopback (INT-2).

The IdP (tests/portal/saml_idp.py) serves metadata and a single
sign-on endpoint over HTTP and signs assertions with xmlsec1; the site reads
its metadata, sends an AuthnRequest by redirect, and verifies the signed
response posted back. Needs Debian's xmlsec1 (scripts/test.sh installs it).
"""

from __future__ import annotations

import base64
import html
import re
import shutil
import urllib.parse
import urllib.request

import pytest

from quietshelf.patrons import services as patron_services
from quietshelf.patrons.auth import SESSION_PATRON
from quietshelf.patrons.models import ContactPoint, Patron
from quietshelf.portal.models import SsoLink

from .saml_idp import TinySamlIdP

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(not shutil.which("xmlsec1"), reason="needs Debian's xmlsec1"),
]


@pytest.fixture
def idp(tmp_path, settings, client):
    provider = TinySamlIdP(tmp_path).start()
    with urllib.request.urlopen(provider.entity_id, timeout=10) as response:  # noqa: S310
        metadata = tmp_path / "idp-metadata.xml"
        metadata.write_bytes(response.read())
    settings.QUIETSHELF_PATRON_SSO = [
        {
            "name": "feide",
            "label": "Feide",
            "protocol": "saml",
            "idp_metadata_file": str(metadata),
            "match_attribute": "eduPersonPrincipalName",
            "attributes": {"given_name": "givenName", "family_name": "sn", "email": "mail"},
        }
    ]
    sp_metadata = client.get("/account/sso/feide/metadata/")
    assert sp_metadata.status_code == 200
    provider.trust_sp(sp_metadata.content.decode())
    provider.name_id = "feide-opaque-5521"
    provider.attributes = {
        "eduPersonPrincipalName": ["kari.n@uni.example.no"],
        "givenName": ["Kari"],
        "sn": ["Nordmann"],
        "mail": ["kari.nordmann@uni.example.no"],
        "telephoneNumber": ["+47 22 44 66 88"],  # offered, not mapped: never stored
    }
    yield provider
    provider.stop()


@pytest.fixture
def uni_patron(db):
    return patron_services.patron_register(
        actor=None,
        given_name="Kari",
        family_name="Nordman",
        identifiers=[("institutional_id", "kari.n@uni.example.no")],
    )


def _form_fields(page: str) -> tuple[str, dict]:
    action = html.unescape(re.search(r'action="([^"]+)"', page).group(1))
    fields = {
        html.unescape(m.group(1)): html.unescape(m.group(2))
        for m in re.finditer(r'name="([^"]+)"\s+value="([^"]*)"', page)
    }
    return action, fields


def _through_idp(client) -> tuple[str, dict]:
    start = client.get("/account/sso/feide/start/")
    assert start.status_code == 302, start.content[:300]
    assert start["Location"].startswith(f"{idp_base(start['Location'])}/idp/sso?")
    with urllib.request.urlopen(start["Location"], timeout=10) as response:  # noqa: S310
        page = response.read().decode()
    action, fields = _form_fields(page)
    assert urllib.parse.urlsplit(action).path == "/account/sso/feide/acs/"
    return urllib.parse.urlsplit(action).path, fields


def idp_base(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def test_saml_sign_in_int_2(client, idp, uni_patron, caplog):
    import logging

    path, fields = _through_idp(client)
    with caplog.at_level(logging.DEBUG):
        response = client.post(path, fields)
    # PRV-LOG-1: neither the NameID nor any attribute value reaches a log
    for value in ("feide-opaque-5521", "kari.n@uni", "Nordmann", "+47 22 44"):
        assert value not in caplog.text
    assert response.status_code == 302, response.content[:500]
    assert response["Location"] == "/account/"
    assert client.session[SESSION_PATRON] == str(uni_patron.pk)
    patron = Patron.objects.get(pk=uni_patron.pk)
    assert patron.family_name == "Nordmann"  # mapped attribute stored
    assert [str(c.value) for c in ContactPoint.objects.filter(patron=patron, kind="email")] == [
        "kari.nordmann@uni.example.no"
    ]
    assert not ContactPoint.objects.filter(patron=patron, kind="phone").exists()
    link = SsoLink.objects.get(patron=patron, provider="feide")
    assert "feide-opaque" not in link.subject_digest


def test_saml_response_replay_refused(client, idp, uni_patron):
    path, fields = _through_idp(client)
    assert client.post(path, fields).status_code == 302
    client.post("/account/sign-out/")
    again = client.post(path, fields)
    assert again.status_code == 400
    assert SESSION_PATRON not in client.session


def test_saml_tampered_assertion_refused(client, idp, uni_patron):
    path, fields = _through_idp(client)
    xml = base64.b64decode(fields["SAMLResponse"]).decode()
    assert "Nordmann" in xml
    fields["SAMLResponse"] = base64.b64encode(xml.replace("Nordmann", "Intruder").encode()).decode()
    response = client.post(path, fields)
    assert response.status_code == 400
    assert SESSION_PATRON not in client.session
    assert Patron.objects.get(pk=uni_patron.pk).family_name == "Nordman"


def test_saml_signed_by_untrusted_key_refused(client, idp, uni_patron):
    idp.forge = True
    path, fields = _through_idp(client)
    response = client.post(path, fields)
    assert response.status_code == 400
    assert SESSION_PATRON not in client.session


def test_saml_forged_relay_state_refused(client, idp, uni_patron):
    path, fields = _through_idp(client)
    fields["RelayState"] = "forged"
    assert client.post(path, fields).status_code == 400
    assert SESSION_PATRON not in client.session


def test_saml_unknown_person_refused(client, idp):
    path, fields = _through_idp(client)
    response = client.post(path, fields)
    assert response.status_code == 403
    assert not Patron.objects.exists()
