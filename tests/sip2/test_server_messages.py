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


async def session(world, name="kiosk1", **kw):
    return await logged_in(world, name, **kw)


def talk(world, steps, name="kiosk1", **kw):
    """Log in as `name`, run `steps(client)`, close; returns what steps returned."""

    async def go():
        c = await session(world, name, **kw)
        try:
            return await steps(c)
        finally:
            await c.__aexit__()

    return run(go())


def test_patron_status_unknown_card_reveals_nothing_prv_not_1(world):
    reply = talk(world, lambda c: c.patron_status("29999999999", PIN))
    assert reply.get("BL") == "N"
    assert not reply.has("AE")
    assert not reply.has("BV")
    assert reply.fixed["patron_status"].startswith("YYYY")


def test_patron_status_wrong_pin_says_only_pin_wrong_prv_auth_1(world):
    patron = world.patron()
    reply = talk(world, lambda c: c.patron_status(patron.card, "1111"))
    assert reply.get("BL") == "Y"
    assert reply.get("CQ") == "N"
    assert not reply.has("AE")
    assert not reply.has("BV")


def test_pin_lockout_per_card_and_terminal_prv_auth_1(world, settings):
    """Five wrong PINs lock the card at this terminal only: the right PIN is refused
    here, and works at another terminal (guessing here cannot lock the patron out)."""
    patron = world.patron()

    async def guess(c):
        replies = [await c.patron_status(patron.card, f"{1000 + i}") for i in range(5)]
        replies.append(await c.patron_status(patron.card, PIN))
        return replies

    replies = talk(world, guess)
    assert all(r.get("CQ") == "N" for r in replies)
    assert "Too many wrong PINs" in replies[-1].get("AF")
    elsewhere = talk(world, lambda c: c.patron_status(patron.card, PIN), name="kiosk-full")
    assert elsewhere.get("CQ") == "Y"
    with world.db():
        from quietshelf.sip2.models import Sip2Failure

        stored = list(Sip2Failure.objects.values_list("account_digest", flat=True))
        assert stored and all(patron.card not in d for d in stored)  # keyed hashes only


def test_patron_without_pin_is_told_to_set_one_int_1(world):
    patron = world.patron(pin=False)
    reply = talk(world, lambda c: c.checkout(patron.card, "x", "1234"))
    assert reply.fixed["ok"] == "0"
    assert "My account" in reply.get("AF")


def test_checkout_without_pin_refused_at_a_pin_terminal_int_1(world):
    patron = world.patron()
    item = world.item()
    reply = talk(world, lambda c: c.checkout(patron.card, item.barcode))
    assert reply.fixed["ok"] == "0"
    assert reply.get("AF") == "Enter your PIN."


def test_staffed_terminal_without_pin_lends_int_1(world):
    patron = world.patron(pin=False)
    item = world.item()
    reply = talk(world, lambda c: c.checkout(patron.card, item.barcode), name="staffed1")
    assert reply.fixed["ok"] == "1", reply.get("AF")


def test_terminal_acts_only_for_the_patron_it_authenticated_sec_acc_1(world):
    """After card A + PIN, card B without a PIN gets nothing, and A's session ends."""
    a, b = world.patron(), world.patron()
    item = world.item()

    async def steps(c):
        first = await c.patron_status(a.card, PIN)
        other = await c.checkout(b.card, item.barcode)
        info = await c.patron_information(b.card, summary="  Y")
        return first, other, info

    first, other, info = talk(world, steps)
    assert first.get("CQ") == "Y"
    assert other.fixed["ok"] == "0"
    assert not info.has("AE") and not info.has("AU")
    with world.db():
        from quietshelf.circulation.models import Loan

        assert not Loan.objects.filter(item_id=item.pk).exists()


def test_session_patron_reused_then_ended_by_35_int_1(world):
    patron = world.patron()
    one, two = world.item(), world.item()

    async def steps(c):
        first = await c.checkout(patron.card, one.barcode, PIN)
        second = await c.checkout(patron.card, two.barcode)  # same card, same session
        end = await c.end_session(patron.card)
        third = await c.renew(patron.card, one.barcode)  # no PIN after the session ended
        return first, second, end, third

    first, second, end, third = talk(world, steps)
    assert first.fixed["ok"] == "1" and second.fixed["ok"] == "1"
    assert end.command == "36" and end.fixed["end_session"] == "Y"
    assert third.fixed["ok"] == "0"


def test_patron_information_lists_barcodes_not_titles_prv_not_1(world):
    patron = world.patron()
    items = [world.item() for _ in range(3)]
    for item in items:
        world.lend(patron, item)

    async def steps(c):
        charged = await c.patron_information(patron.card, PIN, summary="  Y")
        page = await c.patron_information(patron.card, summary="  Y", start=2, end=2)
        return charged, page

    charged, page = talk(world, steps)
    assert charged.command == "64"
    assert charged.fixed["charged_items_count"] == "0003"
    assert sorted(charged.all("AU")) == sorted(i.barcode for i in items)
    assert page.all("AU") == [charged.all("AU")[1]]
    assert charged.get("AE") == patron.given_name
    for personal in ("BD", "BE", "BF"):
        assert not charged.has(personal)


def test_patron_information_with_titles_and_full_name_when_allowed_prv_not_1(world):
    patron = world.patron()
    item = world.item()
    world.lend(patron, item)
    reply = talk(
        world, lambda c: c.patron_information(patron.card, PIN, summary="  Y"), name="kiosk-full"
    )
    assert reply.all("AU") == [f"{item.barcode} {item.record.title}"]
    assert reply.get("AE") == f"{patron.given_name} {patron.family_name}"


def test_checkout_of_item_held_for_another_patron_refused_int_1(world):
    holder, other = world.patron(), world.patron()
    item = world.item()
    with world.db():
        from quietshelf.circulation import services as circ

        circ.hold_place(
            actor=None,
            patron_id=holder.pk,
            record_id=item.record_id,
            pickup_branch_id=world.north.pk,
            item_barcode=item.barcode,
        )
    reply = talk(world, lambda c: c.checkout(other.card, item.barcode, PIN))
    assert reply.fixed["ok"] == "0"
    assert "hold" in reply.get("AF")


def test_checkin_unknown_barcode_int_1(world):
    reply = talk(world, lambda c: c.checkin("NO-SUCH-ITEM"), name="sorter1")
    assert reply.fixed["ok"] == "0"
    assert reply.get("AB") == "NO-SUCH-ITEM"
    assert reply.get("AF")


def test_checkin_traps_for_a_hold_with_an_alert_int_1(world):
    borrower, waiting = world.patron(), world.patron()
    item = world.item()
    world.lend(borrower, item)
    with world.db():
        from quietshelf.circulation import services as circ

        circ.hold_place(
            actor=None,
            patron_id=waiting.pk,
            record_id=item.record_id,
            pickup_branch_id=world.north.pk,
        )
    reply = talk(world, lambda c: c.checkin(item.barcode), name="sorter1")
    assert reply.fixed["ok"] == "1"
    assert reply.fixed["alert"] == "Y"
    assert reply.get("CV") == "01"
    assert reply.get("CL") == "hold_shelf"
    assert not reply.has("AA")


def test_checkin_elsewhere_sends_it_home_int_1(world):
    patron = world.patron()
    item = world.item("south")
    world.lend(patron, item, branch=world.south)
    reply = talk(world, lambda c: c.checkin(item.barcode), name="sorter1")  # sorter at north
    assert reply.fixed["alert"] == "Y"
    assert reply.get("CV") == "04"
    assert reply.get("AQ") == "SSOUTH"


def test_renew_and_renew_all_int_1(world):
    patron = world.patron()
    items = [world.item() for _ in range(2)]
    for item in items:
        world.lend(patron, item)

    async def steps(c):
        one = await c.renew(patron.card, items[0].barcode, PIN)
        every = await c.renew_all(patron.card)
        return one, every

    one, every = talk(world, steps)
    assert one.command == "30" and one.fixed["ok"] == "1", one.get("AF")
    assert len(one.get("AH")) == 18
    assert every.command == "66"
    # the copy renewed a moment ago is "too soon" to renew again (CIR-2); the other renews
    assert every.fixed["renewed_count"] == "0001"
    assert every.all("BM") == [items[1].barcode]
    assert every.all("BN") == [items[0].barcode]


def test_renew_refused_when_another_patron_waits_int_1(world):
    patron, waiting = world.patron(), world.patron()
    item = world.item()
    world.lend(patron, item)
    with world.db():
        from quietshelf.circulation import services as circ

        circ.hold_place(
            actor=None, patron_id=waiting.pk, record_id=item.record_id,
            pickup_branch_id=world.north.pk,
        )  # fmt: skip
    reply = talk(world, lambda c: c.renew(patron.card, item.barcode, PIN))
    assert reply.fixed["ok"] == "0"
    assert "waiting" in reply.get("AF")


def test_checkout_of_own_loan_renews_with_sc_renewal_policy_int_1(world):
    patron = world.patron()
    item = world.item()
    world.lend(patron, item)
    reply = talk(world, lambda c: c.checkout(patron.card, item.barcode, PIN, renew_policy="Y"))
    assert reply.command == "12"
    assert reply.fixed["ok"] == "1"
    assert reply.fixed["renewal_ok"] == "Y"


def test_item_information_int_1(world):
    item = world.item()

    async def steps(c):
        return await c.item_information(item.barcode), await c.item_information("NOPE")

    known, unknown = talk(world, steps, name="sorter1")
    assert known.fixed["circulation_status"] == "03"
    assert known.get("AJ") == item.record.title
    assert known.get("AQ") == "SNORTH"
    assert known.get("CF") == "0"
    assert unknown.fixed["circulation_status"] == "01"


def _fee(world, patron, amount=3000):
    from quietshelf.circulation import services as circ

    return circ.fee_charge(
        actor=None,
        patron_id=patron.pk,
        fee_type="manual",
        amount=amount,
        branch_id=world.north.pk,
    )


def test_fee_paid_bad_input_and_payment_int_1(world):
    patron = world.patron()
    fee = _fee(world, patron, 3000)

    async def steps(c):
        info = await c.patron_information(patron.card, PIN, summary="   Y")
        too_much = await c.fee_paid(patron.card, "31.00")
        currency = await c.fee_paid(patron.card, "10.00", currency="EUR")
        garbage = await c.fee_paid(patron.card, "ten")
        part = await c.fee_paid(patron.card, "10.00", fee_id=str(fee.pk))
        rest = await c.fee_paid(patron.card, "20")
        after = await c.patron_status(patron.card)
        return info, too_much, currency, garbage, part, rest, after

    info, too_much, currency, garbage, part, rest, after = talk(world, steps)
    assert info.fixed["fine_items_count"] == "0001"
    assert info.get("BV") == "30.00"
    assert info.all("AV") == [f"{fee.pk} 30.00 NOK manual"]
    assert too_much.fixed["payment_accepted"] == "N"
    assert "more than" in too_much.get("AF")
    assert currency.fixed["payment_accepted"] == "N"
    assert garbage.fixed["payment_accepted"] == "N"
    assert part.fixed["payment_accepted"] == "Y", part.get("AF")
    assert rest.fixed["payment_accepted"] == "Y", rest.get("AF")
    assert after.get("BV") == "0.00"


def test_fee_paid_for_another_patrons_fee_refused_sec_acc_1(world):
    payer, owner = world.patron(), world.patron()
    fee = _fee(world, owner, 1000)
    reply = talk(world, lambda c: c.fee_paid(payer.card, "10.00", pin=PIN, fee_id=str(fee.pk)))
    assert reply.fixed["payment_accepted"] == "N"
    with world.db():
        from quietshelf.circulation.services import fee_balance

        assert fee_balance(fee.pk) == 1000


def test_hold_place_and_cancel_int_1(world):
    patron, borrower = world.patron(), world.patron()
    item = world.item()
    world.lend(borrower, item)

    async def steps(c):
        placed = await c.hold(patron.card, item.barcode, pin=PIN, pickup="SSOUTH")
        again = await c.hold(patron.card, item.barcode)
        cancelled = await c.hold(patron.card, item.barcode, mode="-")
        return placed, again, cancelled

    placed, again, cancelled = talk(world, steps)
    assert placed.command == "16" and placed.fixed["ok"] == "1", placed.get("AF")
    assert placed.fixed["available"] == "N"
    assert placed.get("BR") == "1"
    assert placed.get("BS") == "SSOUTH"
    assert again.fixed["ok"] == "0"  # a second hold on the title
    assert cancelled.fixed["ok"] == "1", cancelled.get("AF")


def test_block_patron_blocks_and_audits_the_terminal_int_1(world):
    patron = world.patron()
    item = world.item()

    async def steps(c):
        blocked = await c.block_patron(patron.card)
        out = await c.checkout(patron.card, item.barcode, PIN)
        return blocked, out

    blocked, out = talk(world, steps)
    assert blocked.command == "24"
    assert blocked.get("BL") == "Y"
    assert blocked.fixed["patron_status"][0] == "Y"
    assert out.fixed["ok"] == "0"
    with world.db():
        from quietshelf.patrons.models import Block
        from quietshelf.privacy.models import AuditEntry

        assert Block.objects.get(patron_id=patron.pk).reason_code == "lost_card"
        entry = AuditEntry.objects.get(action="blocked", object_id=str(patron.pk))
        assert entry.actor_type == "terminal"
        assert entry.actor_id == str(world.kiosk.pk)


def test_message_not_allowed_for_the_terminal_sec_acc_1(world):
    patron = world.patron()
    item = world.item()
    reply = talk(world, lambda c: c.checkout(patron.card, item.barcode, PIN), name="sorter1")
    assert reply.command == "12"
    assert reply.fixed["ok"] == "0"
    assert "cannot do that" in reply.get("AF")


def test_request_acs_resend_repeats_the_last_reply_int_1(world):
    async def steps(c):
        status = await c.send_raw(c.build("99", ["0", "080", "2.00"]))
        again = await c.send_raw(c.build("97", []))
        return status, again

    status, again = talk(world, steps)
    assert status.startswith(b"98")
    assert again == status


def test_norwegian_screen_messages_for_language_012_int_1(world):
    reply = talk(world, lambda c: c.patron_status("29999999998", PIN, language="012"))
    assert reply.get("BL") == "N"
    assert reply.get("AF") == "Kortet er ukjent. Spør i skranken."
