"""/api/v1/circulation: checkout, checkin, renew, explain, holds, fees; standard error shape."""

from __future__ import annotations

import pytest

from quietshelf.accounts.testing import make_staff, signed_in_client
from tests.circulation.conftest import age_loan

BASE = "/api/v1/circulation"


def post(client, url, data=None):
    return client.post(BASE + url, data=data or {}, content_type="application/json")


def assert_error(r, status, code=None):
    assert r.status_code == status, r.content
    body = r.json()
    assert set(body) == {"error"} and {"code", "message"} <= set(body["error"])
    if code:
        assert body["error"]["code"] == code
    return body["error"]


@pytest.fixture
def api(desk_staff):
    return signed_in_client(desk_staff)


def test_checkout_checkin_renew_round_trip_cir2(api, circ, patron, item):
    p, i = patron(barcode="CARD-API-1"), item()
    r = post(
        api,
        "/checkout",
        {"item_barcode": i.barcode, "patron_barcode": "CARD-API-1", "branch_id": circ["north"].pk},
    )
    assert r.status_code == 201, r.content
    loan_id = r.json()["loan_id"]
    assert r.json()["title"] == i.record.title and "matched" in r.json()["rule_why"]
    r = post(api, "/renew", {"loan_id": loan_id})
    assert r.status_code == 409 and r.json()["error"]["code"] == "too_soon"
    age_loan(loan_id)
    r = post(api, "/renew", {"loan_id": loan_id})
    assert r.status_code == 200 and r.json()["renewals_left"] == 1
    r = post(api, "/checkin", {"item_barcode": i.barcode, "branch_id": circ["south"].pk})
    assert r.status_code == 200
    body = r.json()
    assert body["loan_closed"] and body["route"] == "transit" and body["to_branch"] == "CNORTH"
    assert "patron" not in str(body).lower()
    assert p.pk


def test_checkout_errors_have_the_standard_shape(api, circ, patron, item):
    p, i = patron(), item()
    err = assert_error(
        post(
            api,
            "/checkout",
            {"item_barcode": "NOPE", "patron_id": str(p.pk), "branch_id": circ["north"].pk},
        ),
        404,
        "item_not_found",
    )
    assert "NOPE" not in err["message"]
    post(
        api,
        "/checkout",
        {"item_barcode": i.barcode, "patron_id": str(p.pk), "branch_id": circ["north"].pk},
    )
    err = assert_error(
        post(
            api,
            "/checkout",
            {
                "item_barcode": i.barcode,
                "patron_id": str(patron().pk),
                "branch_id": circ["north"].pk,
            },
        ),
        409,
        "item_on_loan",
    )
    assert err["details"]["overridable"] is False
    assert_error(post(api, "/checkout", {"item_barcode": i.barcode, "branch_id": 1}), 400)
    assert_error(post(api, "/checkout", {"item_barcode": 5}), 422)
    assert_error(post(api, "/renew", {"loan_id": "0" * 32}), 404, "loan_not_found")


def test_api_denies_without_permission_and_without_sign_in(client, circ, patron, item):
    cat = make_staff("apicat", roles=["cataloguer"])
    denied = signed_in_client(cat)
    body = {
        "item_barcode": item().barcode,
        "patron_id": str(patron().pk),
        "branch_id": circ["north"].pk,
    }
    assert_error(post(denied, "/checkout", body), 403)
    assert_error(post(client, "/checkout", body), 401)


def test_explain_holds_and_fee_payment_over_api_cir1_cir3_cir4(api, circ, patron, item):
    from quietshelf.circulation import services

    p, i = patron(), item()
    r = post(
        api,
        "/explain",
        {
            "patron_group_id": circ["adult"].pk,
            "item_type_id": circ["book"].pk,
            "branch_id": circ["north"].pk,
        },
    )
    assert r.status_code == 200 and r.json()["rule_id"] == circ["rule"].pk
    r = post(
        api,
        "/holds",
        {"patron_id": str(p.pk), "record_id": i.record_id, "pickup_branch_id": circ["north"].pk},
    )
    assert r.status_code == 201 and r.json()["queue_position"] == 1
    r = post(api, f"/holds/{r.json()['id']}/cancel")
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    fee = services.fee_charge(
        actor=None, patron_id=p.pk, fee_type="damage", amount=900, branch_id=circ["north"].pk
    )
    assert_error(post(api, f"/fees/{fee.pk}/pay", {"amount_minor": 901}), 400, "overpayment")
    assert_error(post(api, f"/fees/{fee.pk}/pay", {"amount_minor": 1.5}), 422)
    r = post(api, f"/fees/{fee.pk}/pay", {"amount_minor": 900})
    assert r.status_code == 200 and r.json()["balance_minor"] == 0
