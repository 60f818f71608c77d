"""INT-1: every SIP2 message over a real socket to `quietshelf sip2` (a subprocess)."""

from __future__ import annotations

from tests.sip2.client import SipClient, run
from tests.sip2.conftest import PIN, TERMINAL_PASSWORD


def client(world, **kw) -> SipClient:
    return SipClient("127.0.0.1", world.server.port, **kw)


async def logged_in(world, name="kiosk1", **kw) -> SipClient:
    c = client(world, **kw)
    await c.__aenter__()
    reply = await c.login(name, TERMINAL_PASSWORD)
    assert reply.fixed["ok"] == "1"
    return c


def test_login_and_sc_status_int_1(world):
    async def go():
        c = await logged_in(world)
        try:
            status = await c.sc_status()
        finally:
            await c.__aexit__()
        return status

    status = run(go())
    assert status.command == "98"
    assert status.fixed["online_status"] == "Y"
    assert status.fixed["checkin_ok"] == "Y"
    assert status.fixed["checkout_ok"] == "Y"
    assert status.fixed["protocol_version"] == "2.00"
    assert status.get("AO") == "SNORTH"
    assert status.get("AN") == "kiosk1"
    bx = status.get("BX")
    assert len(bx) == 16
    # patron status, checkout, checkin, ..., item status update N, patron enable N
    assert bx[0] == bx[1] == bx[2] == "Y"
    assert bx[11] == "N" and bx[12] == "N"


def test_sorter_sc_status_lists_only_its_messages_sec_acc_1(world):
    async def go():
        c = await logged_in(world, "sorter1")
        try:
            return await c.sc_status()
        finally:
            await c.__aexit__()

    status = run(go())
    assert status.fixed["checkout_ok"] == "N"
    assert status.fixed["checkin_ok"] == "Y"
    assert status.get("BX")[1] == "N"


def test_patron_status_with_pin_int_1_prv_not_1(world):
    patron = world.patron()

    async def go():
        c = await logged_in(world)
        try:
            return await c.patron_status(patron.card, PIN)
        finally:
            await c.__aexit__()

    reply = run(go())
    assert reply.command == "24"
    assert reply.get("BL") == "Y"
    assert reply.get("CQ") == "Y"
    assert reply.get("AE") == patron.given_name  # first name only by default
    assert reply.fixed["patron_status"] == " " * 14
    assert reply.get("BH") == "NOK"
    assert reply.get("BV") == "0.00"
    for personal in ("BD", "BE", "BF"):
        assert not reply.has(personal)


def test_checkout_then_checkin_int_1(world):
    patron = world.patron()
    item = world.item()

    async def go():
        c = await logged_in(world)
        try:
            out = await c.checkout(patron.card, item.barcode, PIN)
            info = await c.item_information(item.barcode)
            back = await c.checkin(item.barcode)
        finally:
            await c.__aexit__()
        return out, info, back

    out, info, back = run(go())
    assert out.command == "12"
    assert out.fixed["ok"] == "1", out.get("AF")
    assert out.get("AB") == item.barcode
    assert len(out.get("AH")) == 18
    assert out.get("AJ") == item.record.title
    assert info.fixed["circulation_status"] == "04"
    assert info.get("AH") == out.get("AH")
    assert back.command == "10"
    assert back.fixed["ok"] == "1"
    assert back.fixed["alert"] == "N"
    assert back.get("CL") == "shelve"
    assert not back.has("AA")  # a return never names who had it
    with world.db():
        from quietshelf.circulation.models import Loan

        loan = Loan.objects.get(item_id=item.pk)
        assert loan.returned_at is not None
        assert loan.patron_id is None  # de-identified in the check-in transaction
