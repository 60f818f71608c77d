"""The public record page for a working library (CAT-4, PRV-PUB-1): copies with due date,
hold count and call number; titles in their original script (880) beside the romanised
ones; clean ISBNs; a state-aware "Sign in" / "My account" link and a privacy link."""

from __future__ import annotations

import pytest
from django.core.cache import cache

from quietshelf.circulation import services
from quietshelf.patrons import services as patron_services
from tests.catalog.search_helpers import add_item, make_record
from tests.circulation.conftest import _fresh_config_cache, circ, patron  # noqa: F401

pytestmark = pytest.mark.django_db

HEBREW_880 = [
    {
        "880": {
            "ind1": "1",
            "ind2": "0",
            "subfields": [{"6": "245-01/(2/r"}, {"a": "ספר הדקדוק /"}],
        }
    },
    {"880": {"ind1": "1", "ind2": " ", "subfields": [{"6": "100-02/(2/r"}, {"a": "כהן, דוד"}]}},
]


@pytest.fixture(autouse=True)
def _fresh_rate_limit():
    cache.clear()
    yield
    cache.clear()


def test_copies_show_due_date_holds_and_call_number_cat4(client, circ, patron):  # noqa: F811
    record = make_record(title="Sefer ha-dikduk")
    out = add_item(record, branch_code="NORTH2", call_number="492.4 KOH", barcode="OPAC-1")
    add_item(record, branch_code="NORTH3", barcode="OPAC-2")
    p = patron()
    r = services.checkout(
        actor=None, item_barcode=out.barcode, patron_id=p.pk, branch_id=out.branch_id
    )
    services.hold_place(
        actor=None, patron_id=patron().pk, record_id=record.pk, pickup_branch_id=out.branch_id
    )
    html = client.get(f"/record/{record.pk}/").content.decode()
    from django.utils.formats import date_format
    from django.utils.timezone import localtime

    assert f"due {date_format(localtime(r.due_at), 'SHORT_DATE_FORMAT')}" in html
    assert "1 hold on this title." in html
    assert "492.4 KOH" in html and "North2 library" in html
    assert str(p.display_name) not in html


def test_original_script_beside_the_romanised_title_cat4(client):
    record = make_record(title="Sefer ha-dikduk", marc_fields=HEBREW_880)
    html = client.get(f"/record/{record.pk}/").content.decode()
    assert 'id="original-title"' in html and "ספר הדקדוק" in html and "כהן, דוד" in html
    html = client.get("/", {"q": "dikduk"}).content.decode()
    assert "Sefer ha-dikduk" in html and "ספר הדקדוק" in html


def test_isbn_shown_without_trailing_punctuation_cat4(client):
    record = make_record(title="Clean numbers", isbns=[{"value": "9788205387491 :", "valid": True}])
    html = client.get(f"/record/{record.pk}/").content.decode()
    assert "<li>9788205387491</li>" in html and "9788205387491 :" not in html


def test_header_says_sign_in_or_my_account_and_footer_links_privacy_prv_pub_1(client, circ):  # noqa: F811
    r = client.get("/")
    html = r.content.decode()
    assert 'id="account-link"' in html and ">Sign in</a>" in html
    assert 'href="/privacy/"' in html
    assert "Set-Cookie" not in str(r.headers) and not r.cookies  # still no cookie
    p = patron_services.patron_register(
        actor=None, given_name="Ada", family_name="Strand", barcode="OPAC-CARD-1"
    )
    import time

    from quietshelf.patrons import auth

    session = client.session
    now = int(time.time())
    session[auth.SESSION_PATRON] = str(p.pk)
    session[auth.SESSION_HASH] = auth.session_hash(p)
    session[auth.SESSION_STARTED] = session[auth.SESSION_SEEN] = now
    session.save()
    html = client.get("/").content.decode()
    assert ">My account</a>" in html and ">Sign in</a>" not in html


def test_language_names_instead_of_codes_cat4(client):
    record = make_record(title="Bod kyi lo rgyus", language="tib")
    assert "Tibetan" in client.get(f"/record/{record.pk}/").content.decode()
    nb = client.get(f"/record/{record.pk}/", HTTP_ACCEPT_LANGUAGE="nb").content.decode()
    assert "Tibetansk" in nb
