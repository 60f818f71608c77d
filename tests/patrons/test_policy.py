"""PAT-2 note warnings (English and Norwegian Bokmål), contact validation, PRV-MNR-1 minors."""

from __future__ import annotations

import datetime as dt

import pytest

from quietshelf.core.errors import InvalidInput
from quietshelf.patrons import policy


def codes(text: str) -> set[str]:
    return {w.code for w in policy.note_warnings(text)}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Patron mentioned her diabetes diagnosis", "health"),
        ("Har vært sykemeldt og har angst", "health"),
        ("Asked about books on depression for himself", "health"),
        ("Goes to the mosque on Fridays", "religion"),
        ("Er kristen og synger i kirkekoret", "religion"),
        ("Active party member of a political group", "politics"),
        ("Politisk aktiv, partimedlem", "politics"),
        ("Said he is gay", "sexuality"),
        ("Fortalte at hun er lesbisk", "sexuality"),
        ("Discussed her ethnic background", "ethnicity"),
        ("Etnisk bakgrunn nevnt", "ethnicity"),
        ("Shop steward, trade union member", "union"),
        ("Medlem av fagforeningen", "union"),
        ("Was recently released from prison", "criminal"),
        ("Er tidligere straffedømt", "criminal"),
    ],
)
def test_special_category_words_en_and_nb_PAT_2(text, expected):
    assert expected in codes(text)


@pytest.mark.parametrize(
    "text",
    [
        "Prefers large print; returns books on time",
        "Liker krim og reiseskildringer",
        "Card replaced after it was lost on the bus",
        "Kortet ble mistet på bussen",
        "Phone 912 34 567, call after 16",
    ],
)
def test_ordinary_notes_raise_no_warning_PAT_2(text):
    assert codes(text) == set()


def test_fodselsnummer_with_valid_checksum_is_flagged_PAT_2():
    # 01010750160 is a synthetic number with valid check digits (python-stdnum's examples)
    assert "national_id" in codes("Fnr 01010750160 ved registrering")
    assert "national_id" in codes("fødselsnr: 010107 50160")
    # same shape, wrong check digits: not a fødselsnummer
    assert "national_id" not in codes("Ref 01010750161")


def test_payment_card_numbers_by_luhn_PAT_2():
    assert "payment_card" in codes("Paid with 4111 1111 1111 1111")
    assert "payment_card" in codes("kort 5500-0000-0000-0004")
    assert "payment_card" not in codes("Order 4111 1111 1111 1112")


def test_email_validation_gives_clear_errors():
    assert policy.clean_email(" ada@example.org ") == "ada@example.org"
    for bad in ("", "not-an-email", "a@b", "x" * 250 + "@example.org"):
        with pytest.raises(InvalidInput) as exc:
            policy.clean_email(bad)
        assert exc.value.code == "invalid_email"


def test_phone_validation_normalises_and_refuses_junk():
    assert policy.clean_phone("+47 912 34 567") == "+4791234567"
    assert policy.clean_phone("(22) 12-34-56") == "22123456"
    for bad in ("", "call me", "12", "+47+47 123456", "1" * 16, "=1+2"):
        with pytest.raises(InvalidInput) as exc:
            policy.clean_phone(bad)
        assert exc.value.code == "invalid_phone"


def test_minor_with_configurable_age_PRV_MNR_1(settings):
    today = dt.date(2026, 6, 1)
    assert policy.is_minor(dt.date(2010, 6, 2), today=today)
    assert not policy.is_minor(dt.date(2008, 6, 1), today=today)  # 18 today
    assert not policy.is_minor(None, today=today)
    settings.QUIETSHELF_MINOR_AGE = 16
    assert not policy.is_minor(dt.date(2010, 5, 1), today=today)
    settings.QUIETSHELF_GUARDIAN_ACCESS = "by_law"
    assert policy.guardian_access_rule() == "by_law"
    settings.QUIETSHELF_GUARDIAN_ACCESS = "anything"
    assert policy.guardian_access_rule() == "none"


def test_expired_card_gives_an_automatic_block_PAT_3():
    class P:
        expiry_date = dt.date(2026, 1, 1)

    blocks = policy.effective_blocks(P(), [], today=dt.date(2026, 1, 2))
    assert [(b.code, b.automatic) for b in blocks] == [("expired", True)]
    assert policy.effective_blocks(P(), [], today=dt.date(2026, 1, 1)) == []


def test_a_new_patrons_expiry_comes_from_the_group_unless_given_issue_14_item_6():
    """#14 item 6: one rule for registration and patron loads (patrons.policy)."""
    today = dt.date(2026, 3, 1)
    given = dt.date(2027, 1, 31)
    assert policy.expiry_from_group(expiry=None, validity_days=365, today=today) == dt.date(
        2027, 3, 1
    )
    assert policy.expiry_from_group(expiry=given, validity_days=365, today=today) == given
    assert policy.expiry_from_group(expiry=None, validity_days=None, today=today) is None
    assert policy.expiry_from_group(expiry=None, validity_days=0, today=today) is None
