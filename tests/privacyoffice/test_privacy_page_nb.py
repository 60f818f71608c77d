"""The privacy page's tables in Norwegian Bokmål (PRV-INV-2, PRV-POL-1, issue 16 item 10).

The tables are generated from the data inventory, whose words (purposes, field and
model names, data categories, legal bases, retention periods) are English msgids;
under nb the page shows every one of them in Bokmål, and under en in English.
"""

from __future__ import annotations

import pytest
from django.test import Client
from django.utils import translation
from django.utils.html import escape

from quietshelf.privacy import inventory

pytestmark = pytest.mark.django_db(databases="__all__")


def cells(html: str) -> set[str]:
    import re

    return {m.strip() for m in re.findall(r"<td[^>]*>(.*?)(?:<br>|</td>)", html, flags=re.S)}


def test_every_inventory_word_has_a_bokmal_translation_prv_inv_2():
    words = {i.decl.purpose for i in inventory.items()}
    words |= set(inventory.DATA_CATEGORIES.values()) | set(inventory.LEGAL_BASES.values())
    with translation.override("nb"):
        missing = sorted(w for w in words if translation.gettext(w) == w)
    assert missing == [], f"{len(missing)} without Bokmål, first: {missing[:3]}"


def test_privacy_page_in_bokmal_has_no_english_purpose_prv_inv_2_prv_pol_1(lib):
    html = Client().get("/privacy/?lang=nb").content.decode()
    shown = cells(html)
    purposes = {i.decl.purpose for i in inventory.items()}
    english = sorted(p for p in purposes if escape(p) in shown)
    assert english == [], f"English purposes on the nb page: {english[:5]}"
    with translation.override("nb"):
        bokmal = {escape(translation.gettext(p)) for p in purposes}
    assert len(bokmal & shown) > 50  # the purposes are there, in Bokmål
    for english_word in (*inventory.DATA_CATEGORIES.values(), *inventory.LEGAL_BASES.values()):
        assert escape(english_word) not in shown, english_word
    assert "days after" not in html and "dager etter at" in html
    assert "(GDPR Art." not in html and "personvernforordningen" in html


def test_privacy_page_in_english_keeps_the_inventory_words_prv_inv_2(lib):
    html = Client().get("/privacy/?lang=en").content.decode()
    shown = cells(html)
    assert escape("knowing who borrows and addressing them") in shown
    assert "days after" in html
