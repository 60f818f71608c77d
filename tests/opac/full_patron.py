"""A patron with a bit of everything (loans, an overdue one, holds waiting and queued, fees,
a payment, reading history, consents, contacts, identifiers, a note, a block) and a browser
session for them: the full layout of My account and My data in the browser tests."""

from __future__ import annotations

import datetime as dt
import time

from django.conf import settings
from django.contrib.sessions.backends.db import SessionStore
from django.db.models import F

from quietshelf.circulation import services as circ_services
from quietshelf.circulation.models import Loan
from quietshelf.patrons import auth
from quietshelf.patrons import services as patron_services
from quietshelf.privacy import services as privacy_services
from tests.catalog.search_helpers import add_item, make_record

LONG = "Donaudampfschifffahrtsgesellschaftskapitänsmützenabzeichen"


def make_full_patron(circ, *, card: str = "FULL-CARD-1") -> dict:
    north, south = circ["north"], circ["south"]
    patron = patron_services.patron_register(
        actor=None,
        given_name="Ingrid Margrethe Solveig",
        family_name=f"Aasen-{LONG}",
        barcode=card,
        identifiers=[("student_number", "S-7012345")],
        home_branch=north,
        group=circ["adult"],
        email="ingrid.margrethe.solveig.aasen.donaudampfschifffahrt@example.org",
        phone="+47 400 00 000",
        address=f"{LONG}gata 123, 0150 Oslo",
        date_of_birth=dt.date(1970, 1, 1),
        password="a-long-patron-password-9",
    )
    privacy_services.give_consent(subject_id=patron.subject_id, scope="reading_history")
    records = [
        make_record(title=f"{LONG} {word}", subjects=["Hav"]) for word in ("tang", "tare", "sjø")
    ]
    lent = [add_item(r, branch_code=north.code, call_number="551.46 TID") for r in records[:2]]
    loans = [
        circ_services.checkout(
            actor=None, item_barcode=i.barcode, patron_id=patron.pk, branch_id=north.pk
        )
        for i in lent
    ]
    # one loan long overdue (a fine accrues at check-in), one returned (reading history)
    loan_ids = list(Loan.objects.filter(patron=patron).values_list("pk", flat=True))
    Loan.objects.filter(pk=loan_ids[0]).update(due_at=F("due_at") - dt.timedelta(days=40))
    returned = add_item(records[2], branch_code=north.code)
    circ_services.checkout(
        actor=None, item_barcode=returned.barcode, patron_id=patron.pk, branch_id=north.pk
    )
    Loan.objects.filter(item=returned).update(due_at=F("due_at") - dt.timedelta(days=30))
    circ_services.checkin(actor=None, item_barcode=returned.barcode, branch_id=north.pk)
    fee = circ_services.fee_charge(
        actor=None, patron_id=patron.pk, fee_type="manual", amount=2500, branch_id=north.pk
    )
    waiting_record = make_record(title=f"Stormfugl {LONG}")
    waiting_item = add_item(waiting_record, branch_code=south.code)
    waiting = circ_services.hold_place(
        actor=None, patron_id=patron.pk, record_id=waiting_record.pk, pickup_branch_id=north.pk
    )
    circ_services.checkin(actor=None, item_barcode=waiting_item.barcode, branch_id=north.pk)
    queued_record = make_record(title="Fyrlykta")
    add_item(queued_record, branch_code=south.code, status="on_loan")
    queued = circ_services.hold_place(
        actor=None, patron_id=patron.pk, record_id=queued_record.pk, pickup_branch_id=south.pk
    )
    patron_services.note_add(actor=None, patron_id=patron.pk, text=f"Prefers {LONG} at the desk")
    block = patron_services.block_add(
        actor=None, patron_id=patron.pk, reason_code="lost_card", comment=f"Lost card {LONG}"
    )
    return {
        "patron": patron,
        "records": records,
        "loans": loans,
        "fee": fee,
        "hold": waiting,
        "queued": queued,
        "waiting_item": waiting_item,
        "block": block,
    }


def patron_session_cookie(patron, live_server_url: str) -> dict:
    """A signed-in patron session as a Playwright cookie."""
    session = SessionStore()
    now = int(time.time())
    session[auth.SESSION_PATRON] = str(patron.pk)
    session[auth.SESSION_HASH] = auth.session_hash(patron)
    session[auth.SESSION_STARTED] = session[auth.SESSION_SEEN] = now
    session.create()
    return {
        "name": settings.SESSION_COOKIE_NAME,
        "value": session.session_key,
        "url": live_server_url,
    }
