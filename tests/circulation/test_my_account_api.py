"""/api/v1/circulation/me/…: the patron's own loans, renewals, holds, fees and reading history.

CIR-2/3/4 self-service, PRV-HIST-3 (view, export JSON and CSV, delete). No
patron id in any route; another patron's loan or hold is refused.
"""

from __future__ import annotations

import pytest

from quietshelf.circulation import services
from quietshelf.privacy import services as privacy_services
from tests.circulation.conftest import age_loan

PASSWORD = "a long patron passphrase 7"  # noqa: S105 - test data
BASE = "/api/v1/circulation/me"


@pytest.fixture
def me(client, patron):
    p = patron(barcode="ME-CARD-1", password=PASSWORD)
    r = client.post("/account/sign-in/", {"identifier": "ME-CARD-1", "password": PASSWORD})
    assert r.status_code == 302, r.content[:300]
    return client, p


def test_my_loans_renew_holds_fees_history(me, circ, patron, item):
    client, p = me
    i, j = item(), item()
    loan = services.checkout(
        actor=None, item_barcode=i.barcode, patron_id=p.pk, branch_id=circ["north"].pk
    ).loan
    r = client.get(f"{BASE}/loans")
    assert r.status_code == 200 and [x["title"] for x in r.json()] == [i.record.title]
    age_loan(loan.pk)
    r = client.post(f"{BASE}/loans/{loan.pk}/renew")
    assert r.status_code == 200 and r.json()["renewals_left"] == 1
    r = client.post(
        f"{BASE}/holds",
        {"record_id": j.record_id, "pickup_branch_id": circ["north"].pk},
        content_type="application/json",
    )
    assert r.status_code == 201 and r.json()["queue_position"] == 1
    hold_id = r.json()["id"]
    assert [h["id"] for h in client.get(f"{BASE}/holds").json()] == [hold_id]
    assert client.post(f"{BASE}/holds/{hold_id}/cancel").json()["status"] == "cancelled"
    services.fee_charge(
        actor=None, patron_id=p.pk, fee_type="card", amount=5000, branch_id=circ["north"].pk
    )
    fees = client.get(f"{BASE}/fees").json()
    assert [(f["type"], f["balance_minor"]) for f in fees] == [("card", 5000)]
    privacy_services.give_consent(subject_id=p.subject_id, scope=services.READING_HISTORY)
    services.checkin(actor=None, item_barcode=i.barcode, branch_id=circ["north"].pk)
    assert [h["title"] for h in client.get(f"{BASE}/reading-history").json()] == [i.record.title]
    csv = client.get(f"{BASE}/reading-history?format=csv")
    assert csv["Content-Type"].startswith("text/csv") and i.record.title in csv.content.decode()
    assert client.delete(f"{BASE}/reading-history").json() == {"deleted": 1}
    assert client.get(f"{BASE}/reading-history").json() == []


def test_cannot_touch_another_patrons_loan_or_hold(me, circ, patron, item):
    client, _p = me
    other = patron()
    i = item()
    loan = services.checkout(
        actor=None, item_barcode=i.barcode, patron_id=other.pk, branch_id=circ["north"].pk
    ).loan
    r = client.post(f"{BASE}/loans/{loan.pk}/renew")
    assert r.status_code == 403 and set(r.json()) == {"error"}
    h = services.hold_place(
        actor=None,
        patron_id=other.pk,
        record_id=item().record_id,
        pickup_branch_id=circ["north"].pk,
    )
    assert client.post(f"{BASE}/holds/{h.pk}/cancel").status_code == 403


def test_my_account_api_needs_a_patron_session(client, circ):
    r = client.get(f"{BASE}/loans")
    assert r.status_code == 401 and set(r.json()) == {"error"}


def test_my_loans_query_count_does_not_grow(me, circ, item):
    """Rule 9: list endpoints assert their query count (1 loan vs 6 loans)."""
    from tests.queries import own_queries

    client, p = me

    def lend():
        services.checkout(
            actor=None, item_barcode=item().barcode, patron_id=p.pk, branch_id=circ["north"].pk
        )

    lend()
    own_queries(client, f"{BASE}/loans")  # warm per-process caches once
    one = own_queries(client, f"{BASE}/loans")
    for _ in range(5):
        lend()
    assert own_queries(client, f"{BASE}/loans") == one
