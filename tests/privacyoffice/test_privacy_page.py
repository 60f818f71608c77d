"""The privacy page speaks to people (PRV-INV-2, PRV-POL-1, PRV-CPL-1): each right and how to
use it, contact and supervisory authority from settings, government requests, transparency
and canary; no internal role codes or table names; English and Norwegian Bokmål; patrons can
subscribe to notice of policy changes."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.test import Client

from quietshelf.core import clock
from quietshelf.notices.models import Notice
from quietshelf.privacy import services as privacy_services
from quietshelf.privacyoffice import services
from tests.privacyoffice.test_erasure import patron_client

pytestmark = pytest.mark.django_db(databases="__all__")

INTERNAL = re.compile(
    r"privacy_office|patron_manager|patrons\.Patron|circulation\.Loan|"
    r"privacyoffice\.|_index\b|\bsubject_id\b"
)


def visible_text(html: str) -> str:
    html = re.sub(r"<(script|style)[^>]*>.*?</\1>", " ", html, flags=re.S)
    return re.sub(r"<[^>]+>", " ", html)


def test_page_has_each_right_contact_authority_and_no_internal_codes_prv_cpl_1(lib, settings):
    settings.QUIETSHELF_CONTROLLER = {"name": "Fjordby Library", "contact": "dpo@fjordby.example"}
    settings.QUIETSHELF_SUPERVISORY_AUTHORITY = "Datatilsynet"
    services.canary_sign(actor=None, valid_days=30)
    html = Client().get("/privacy/").content.decode()
    text = visible_text(html)
    for anchor in ("right-access", "right-correct", "right-erase", "right-restrict",
                   "right-complain", "government", "changes", "what-we-store"):  # fmt: skip
        assert f'id="{anchor}"' in html
    assert "dpo@fjordby.example" in text and "Datatilsynet" in text
    assert "/privacy/transparency/" in html and "/privacy/canary/" in html
    assert "warrant canary" in text and "is valid until" in text
    assert not INTERNAL.search(text), INTERNAL.search(text).group(0)
    assert "staff at the lending desk" in text


def test_page_in_norwegian_bokmal_prv_pol_1(lib):
    text = visible_text(Client().get("/privacy/?lang=nb").content.decode())
    assert "Dine rettigheter" in text and "Når politiet eller en domstol spør" in text
    assert "Your rights" not in text


def test_patron_subscribes_to_policy_changes_and_gets_a_notice_prv_pol_1(patron):
    subscriber, other = patron(email="sub@example.org"), patron(email="other@example.org")
    client = patron_client(subscriber)
    page = client.get("/account/consents/").content.decode()
    assert "Tell me when the privacy policy changes" in page
    privacy_services.give_consent(subject_id=subscriber.subject_id, scope="policy_changes")
    privacy_services.policy_version_create(
        actor=None,
        version="2.0",
        effective_date=clock.today() - dt.timedelta(days=1),
        text_markdown="# Policy 2",
        summary_of_changes="Shorter storage of notices.",
        material=True,
    )
    assert services.policy_change_notices() == 1
    assert services.policy_change_notices() == 0  # once per version
    notice = Notice.objects.get(notice_type="privacy")
    assert notice.patron_id == subscriber.pk and "Shorter storage" in notice.data["message"]
    assert not Notice.objects.filter(patron=other).exists()


def test_canary_transparency_and_my_account_pages_in_bokmal_prv_gov_2(lib, patron):
    services.canary_sign(actor=None, valid_days=30)
    text = visible_text(Client().get("/privacy/canary/?lang=nb").content.decode())
    assert "Kanarifuglerklæring" in text and "Gjeldende: gyldig til" in text
    text = visible_text(Client().get("/privacy/transparency/?lang=nb").content.decode())
    assert "Åpenhetsrapport" in text and "ikke fått noen slike" in text
    client = patron_client(patron())
    page = client.get("/account/privacy/erase/", HTTP_ACCEPT_LANGUAGE="nb").content.decode()
    assert "Før noe skjer" in page and "Be om sletting" in page
