"""My data in Norwegian Bokmål (PRV-DSR-1, PRV-INV-2): the page is generated from the data
inventory like the privacy page, and shows the inventory's words in the reader's language
(purposes, legal bases, periods) and who may see a field in words, never a role code."""

from __future__ import annotations

import re

from django.utils import translation
from django.utils.html import escape

from quietshelf.privacy import inventory


def _why_cells(html: str) -> set[str]:
    return {
        m.strip()
        for m in re.findall(r'<td data-label="[^"]*">(.*?)(?: <span|</td>)', html, flags=re.S)
    }


def test_my_data_in_bokmal_has_no_english_purpose_prv_dsr_1_prv_inv_2(signed_in):
    # the language comes from the browser (core/i18n.py: never from a cookie)
    html = signed_in.get("/account/my-data/", headers={"accept-language": "nb"}).content.decode()
    assert '<html lang="nb"' in html
    shown = _why_cells(html)
    purposes = {i.decl.purpose for i in inventory.items() if "patron" in i.subjects}
    english = sorted(p for p in purposes if escape(p) in shown)
    assert english == [], f"English purposes on the nb page: {english[:5]}"
    with translation.override("nb"):
        bokmal = {escape(translation.gettext(p)) for p in purposes}
    assert len(bokmal & shown) > 20  # the purposes are there, in Bokmål
    assert "days after" not in html and "dager etter" in html
    for basis in inventory.LEGAL_BASES.values():
        assert f"({escape(basis)})" not in html, basis


def test_my_data_names_who_may_see_in_words_not_role_codes_prv_dsr_1(signed_in):
    html = signed_in.get("/account/my-data/", headers={"accept-language": "en"}).content.decode()
    readers = re.findall(r'<td data-label="Who may see it">(.*?)</td>', html, flags=re.S)
    assert readers, "no 'who may see it' cells"
    codes = {"circulation", "patron_manager", "privacy_office", "system"}
    assert not [r for r in readers if set(re.split(r",\s*", r)) & codes], readers[:5]
    assert any("staff at the lending desk" in r for r in readers)
