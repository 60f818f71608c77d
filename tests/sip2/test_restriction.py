"""PRV-DSR-5 over SIP2: a patron who restricted the use of their data is kept, not used.

A self-service terminal talks to the real `quietshelf sip2` subprocess over a
socket. Every SIP2 door that would put the patron's record to a new use is
refused (check-out, a check-out that renews, renew, renew all, hold), the
patron status says so in its fixed flags, and nothing is written for them.
A terminal has no override: that needs staff at the desk.
"""

from __future__ import annotations

import itertools

from tests.sip2.client import SipClient, run
from tests.sip2.conftest import PIN, TERMINAL_PASSWORD

_n = itertools.count(1)


def _restrict(patron) -> None:
    from quietshelf.accounts.testing import make_staff
    from quietshelf.privacyoffice import services

    officer = make_staff(f"sip2-officer{next(_n)}", roles=["privacy-officer"])
    services.restriction_apply(actor=officer, patron_id=patron.pk)


def talk(world, steps, name="kiosk1"):
    async def go():
        c = SipClient("127.0.0.1", world.server.port)
        await c.__aenter__()
        try:
            assert (await c.login(name, TERMINAL_PASSWORD)).fixed["ok"] == "1"
            return await steps(c)
        finally:
            await c.__aexit__()

    return run(go())


def test_restricted_patron_refused_every_sip2_use_prv_dsr_5(world):
    from quietshelf.circulation.models import Hold, Loan

    patron, other = world.patron(), world.patron()
    on_loan = world.item()  # lent before the restriction: renewing it is a new use
    world.lend(patron, on_loan)
    fresh, held_elsewhere = world.item(), world.item()
    world.lend(other, held_elsewhere)
    _restrict(patron)
    loans_before = list(Loan.objects.filter(patron_id=patron.pk).values_list("pk", "due_at"))

    async def steps(c):
        return {
            "status": await c.patron_status(patron.card, PIN),
            "checkout": await c.checkout(patron.card, fresh.barcode, PIN),
            "checkout_renews": await c.checkout(
                patron.card, on_loan.barcode, PIN, renew_policy="Y"
            ),
            "renew": await c.renew(patron.card, on_loan.barcode, PIN),
            "renew_all": await c.renew_all(patron.card, PIN),
            "hold": await c.hold(patron.card, held_elsewhere.barcode, pin=PIN),
        }

    r = talk(world, steps)
    # the patron is told who they are (it is their own data) but every charge is denied
    assert r["status"].get("BL") == "Y" and r["status"].get("CQ") == "Y"
    assert r["status"].fixed["patron_status"][:4] == "YYYY"
    for name in ("checkout", "checkout_renews", "renew"):
        reply = r[name]
        assert reply.fixed["ok"] == "0", (name, reply.get("AF"))
        assert "restricted" in reply.get("AF"), (name, reply.get("AF"))
    assert r["checkout"].command == "12" and r["checkout"].fixed["renewal_ok"] == "N"
    assert r["checkout_renews"].fixed["renewal_ok"] == "N"
    assert r["renew_all"].fixed["renewed_count"] == "0000"
    assert r["renew_all"].all("BN") == [on_loan.barcode]
    assert r["hold"].command == "16" and r["hold"].fixed["ok"] == "0"
    assert "restricted" in r["hold"].get("AF")
    # nothing new for the restricted patron: no loan, no renewal, no hold
    assert list(Loan.objects.filter(patron_id=patron.pk).values_list("pk", "due_at")) == (
        loans_before
    )
    assert not Hold.objects.filter(patron_id=patron.pk).exists()


def test_restricted_patron_refused_at_a_terminal_without_pin_prv_dsr_5(world):
    """A staffed terminal that asks no PIN is still a terminal: no override there."""
    from quietshelf.circulation.models import Loan

    patron = world.patron()
    item = world.item()
    _restrict(patron)
    reply = talk(world, lambda c: c.checkout(patron.card, item.barcode), name="staffed1")
    assert reply.fixed["ok"] == "0" and "restricted" in reply.get("AF")
    assert not Loan.objects.filter(patron_id=patron.pk).exists()


def test_same_steps_work_for_an_unrestricted_patron_prv_dsr_5(world):
    """The refusals above come from the restriction: the same patron, lifted, borrows."""
    patron = world.patron()
    item = world.item()
    reply = talk(world, lambda c: c.checkout(patron.card, item.barcode, PIN))
    assert reply.fixed["ok"] == "1", reply.get("AF")
