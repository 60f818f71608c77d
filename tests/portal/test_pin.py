"""INT-1, PRV-AUTH-1: the patron sets their own self-check PIN in My account (never staff),
with their password; stored as Argon2id; never accepted for web sign-in."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from quietshelf.patrons.models import Patron
from quietshelf.portal import services
from quietshelf.portal.errors import PinRejected
from quietshelf.privacy.models import AuditEntry

from .conftest import PASSWORD, sign_in


@pytest.mark.parametrize("pin", ["123", "123456789", "12a4", "1111", "1234", "9876", "0123"])
def test_weak_or_malformed_pins_are_refused_prv_auth_1(pin):
    with pytest.raises(PinRejected):
        services.check_new_pin(pin)


@pytest.mark.parametrize("pin", ["4826", "27182818", "9051"])
def test_good_pins_pass_prv_auth_1(pin):
    assert services.check_new_pin(pin) == pin


def test_set_pin_needs_the_password_and_is_hashed_prv_auth_1(signed_in, patron):
    page = signed_in.get("/account/pin/")
    assert page.status_code == 200
    wrong = signed_in.post(
        "/account/pin/", {"password": "not-mine", "pin1": "4826", "pin2": "4826"}
    )
    assert wrong.status_code == 403
    assert not Patron.objects.get(pk=patron.pk).pin_hash
    differ = signed_in.post("/account/pin/", {"password": PASSWORD, "pin1": "4826", "pin2": "4827"})
    assert differ.status_code == 400
    weak = signed_in.post("/account/pin/", {"password": PASSWORD, "pin1": "1111", "pin2": "1111"})
    assert weak.status_code == 400
    assert b"too easy" in weak.content
    done = signed_in.post("/account/pin/", {"password": PASSWORD, "pin1": "4826", "pin2": "4826"})
    assert done.status_code == 302
    stored = Patron.objects.get(pk=patron.pk)
    assert stored.pin_hash.startswith("argon2$argon2id$")
    assert "4826" not in stored.pin_hash
    assert stored.check_pin("4826")
    entry = AuditEntry.objects.get(action="pin_set", object_id=str(patron.pk))
    assert entry.actor_type == "patron"


def test_pin_never_signs_in_on_the_web_prv_auth_1(client, patron):
    Patron.objects.filter(pk=patron.pk).update(pin_hash=None)
    patron.set_pin("4826")
    patron.save(update_fields=["pin_hash"])
    response = sign_in(client, "230099990001", "4826")
    assert response.status_code != 302
    assert "/account/" not in response.get("Location", "")


def test_remove_pin_needs_the_password_and_is_audited_int_1_prv_auth_1(signed_in, patron):
    """The patron removes their own PIN with their password; the machines then have no
    PIN to accept. The form shows only when there is a PIN; GET on its address is 405."""
    assert b"pin-remove-form" not in signed_in.get("/account/pin/").content
    patron.set_pin("4826")
    patron.save(update_fields=["pin_hash"])
    assert b"pin-remove-form" in signed_in.get("/account/pin/").content
    assert signed_in.get("/account/pin/remove/").status_code == 405
    wrong = signed_in.post("/account/pin/remove/", {"remove-password": "not-mine"})
    assert wrong.status_code == 403
    assert Patron.objects.get(pk=patron.pk).check_pin("4826")
    empty = signed_in.post("/account/pin/remove/", {})
    assert empty.status_code == 400 and Patron.objects.get(pk=patron.pk).pin_hash
    done = signed_in.post("/account/pin/remove/", {"remove-password": PASSWORD})
    assert done.status_code == 302
    stored = Patron.objects.get(pk=patron.pk)
    assert stored.pin_hash is None and not stored.check_pin("4826")
    entry = AuditEntry.objects.get(action="pin_removed", object_id=str(patron.pk))
    assert entry.actor_type == "patron"


def test_pin_page_needs_sign_in(client):
    response = client.get("/account/pin/")
    assert response.status_code == 302
    assert "/account/sign-in/" in response["Location"]


@pytest.mark.browser
@pytest.mark.django_db(transaction=True, databases="__all__")
def test_browser_patron_sets_pin_in_my_account_int_1(page, make_patron):
    patron = make_patron(email="siri.berg@example.org", barcode="230077770002")
    page.goto("/account/sign-in/")
    page.get_by_label("Card number or e-mail address").fill("230077770002")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("link", name="My PIN for the self-check machines").click()
    expect(page.get_by_text("You have no PIN yet.", exact=False)).to_be_visible()
    form = page.locator("#pin-form")
    form.get_by_label("Current password").fill(PASSWORD)
    form.locator("input[name=pin1]").fill("1111")
    form.locator("input[name=pin2]").fill("1111")
    form.get_by_role("button", name="Set my PIN").click()
    expect(page.get_by_text("too easy to guess")).to_be_visible()
    form = page.locator("#pin-form")
    form.get_by_label("Current password").fill(PASSWORD)
    form.locator("input[name=pin1]").fill("4826")
    form.locator("input[name=pin2]").fill("4826")
    form.get_by_role("button", name="Set my PIN").click()
    expect(page.get_by_text("Your PIN is set.")).to_be_visible()
    assert Patron.objects.get(pk=patron.pk).check_pin("4826")
    # and removes it again
    page.get_by_role("link", name="My PIN for the self-check machines").click()
    expect(page.get_by_text("You have a PIN.", exact=False)).to_be_visible()
    remove = page.locator("#pin-remove-form")
    remove.get_by_label("Current password").fill(PASSWORD)
    remove.get_by_role("button", name="Remove my PIN").click()
    expect(page.get_by_text("Your PIN is removed.")).to_be_visible()
    assert Patron.objects.get(pk=patron.pk).pin_hash is None
