"""Translated labels on the template list and translated consent descriptions.

PRV-CON-1: a patron reads what a consent means in their own language.
PRV-NOT-1 (staff side): the template list names notices, languages and channels in words.
"""

from __future__ import annotations

from django.utils import translation

from quietshelf.accounts.testing import make_staff, signed_in_client
from quietshelf.notices import services
from quietshelf.privacy import consent

PASSWORD = "quiet-lantern-orchard-9"


def test_consent_descriptions_are_translated_prv_con_1():
    history = consent.get_scope(services.HISTORY_SCOPE).description
    titles = consent.get_scope(services.TITLES_SCOPE).description
    with translation.override("nb"):
        assert str(history).startswith("Ta vare på varslene biblioteket sender meg")
        assert str(titles).startswith("Nevn titlene i varslene mine")
    with translation.override("en"):
        assert str(history).startswith("Keep the notices the library sends me")


def _signed_in(client, reader):
    p = reader(password=PASSWORD)
    response = client.post(
        "/account/sign-in/", {"identifier": p.active_card.barcode, "password": PASSWORD}
    )
    assert response.status_code == 302, response.content[:300]
    return p


def test_norwegian_patron_reads_the_notice_consents_in_norwegian_prv_con_1(client, reader):
    _signed_in(client, reader)
    page = client.get("/account/consents/", HTTP_ACCEPT_LANGUAGE="nb")
    html = page.content.decode()
    assert page.status_code == 200
    assert "Ta vare på varslene biblioteket sender meg" in html
    assert "Nevn titlene i varslene mine" in html
    assert "Keep the notices the library sends me" not in html
    english = client.get("/account/consents/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Keep the notices the library sends me" in english


def test_the_api_gives_the_consent_descriptions_as_text_in_the_callers_language_prv_con_1(
    client, reader
):
    _signed_in(client, reader)
    response = client.get("/api/v1/me", HTTP_ACCEPT_LANGUAGE="nb")
    assert response.status_code == 200
    described = {c["scope"]: c["description"] for c in response.json()["consents"]}
    assert described[services.TITLES_SCOPE].startswith("Nevn titlene i varslene mine")


def test_template_list_shows_labels_not_codes_prv_not_1(circ):
    admin = make_staff("labels-admin", roles=["administrator"])
    client = signed_in_client(admin)
    html = client.get("/staff/notices/templates/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Due soon</a></td><td>English</td><td>E-mail</td>" in html
    assert "Loan receipt</a></td><td>Norwegian Bokmål</td><td>Text message</td>" in html
    assert ">due_soon<" not in html and "<td>en</td>" not in html and "<td>sms</td>" not in html
    html = client.get("/staff/notices/templates/", HTTP_ACCEPT_LANGUAGE="nb").content.decode()
    assert "Snart forfall</a></td><td>Engelsk</td><td>E-post</td>" in html
    assert "Lånekvittering</a></td><td>Norsk bokmål</td><td>SMS</td>" in html
    # the links still use the codes
    assert 'href="/staff/notices/templates/receipt/nb/sms/"' in html


def test_template_editor_heading_uses_the_same_translated_labels_prv_not_1(circ):
    admin = make_staff("labels-admin2", roles=["administrator"])
    client = signed_in_client(admin)
    html = client.get(
        "/staff/notices/templates/fee/en/sms/", HTTP_ACCEPT_LANGUAGE="nb"
    ).content.decode()
    assert "Engelsk · SMS" in html
    assert client.get("/staff/notices/templates/fee/xx/sms/").status_code == 404
