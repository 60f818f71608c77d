"""SIP2 services against the database (no socket): terminal accounts, the TerminalActor
seam in circulation (SEC-ACC-1), card + PIN checks and lock-outs (PRV-AUTH-1)."""

from __future__ import annotations

import pytest
from django.test import override_settings

from quietshelf.accounts.authz import TerminalActor
from quietshelf.circulation import selectors as circ_selectors
from quietshelf.circulation import services as circ_services
from quietshelf.core.errors import Conflict, InvalidInput, PermissionDenied
from quietshelf.patrons.models import Patron
from quietshelf.privacy.models import AuditEntry
from quietshelf.sip2 import services
from quietshelf.sip2.models import Sip2Failure, Terminal


def _actor(terminal_id, patron_id, perms=("circulation.checkout",)):
    return TerminalActor.for_terminal(terminal_id, permissions=perms, patron_id=patron_id)


def test_terminal_create_hashes_with_argon2id_and_audits_sec_acc_1(circ):
    terminal, password = services.terminal_create(actor=None, name="kiosk-a", branch="CNORTH")
    assert len(password) >= 20
    assert terminal.password_hash.startswith("argon2$argon2id$")
    assert password not in terminal.password_hash
    assert terminal.check_password(password)
    assert terminal.allowed == {"23", "63", "11", "09", "29", "65", "17", "37", "15", "35", "01"}
    assert AuditEntry.objects.filter(action="created", object_type="sip2.terminal").exists()


@pytest.mark.parametrize(
    "kwargs, code",
    [
        ({"name": "x"}, "invalid_name"),
        ({"name": "ok-name", "branch": "NOPE"}, "invalid_branch"),
        ({"name": "ok-name", "allowed_messages": "11,42"}, "invalid_messages"),
        ({"name": "ok-name", "allowed_messages": "93"}, "invalid_messages"),
        ({"name": "ok-name", "password": "short"}, "weak_password"),
        ({"name": "ok-name", "patron_name": "surname"}, "invalid_patron_name"),
    ],
)
def test_terminal_create_bad_input_sec_acc_1(circ, kwargs, code):
    kwargs.setdefault("branch", "CNORTH")
    with pytest.raises(InvalidInput) as exc:
        services.terminal_create(actor=None, **kwargs)
    assert exc.value.code == code


def test_terminal_management_needs_manage_staff_for_the_branch_sec_acc_1(circ):
    from quietshelf.accounts.testing import make_staff

    desk = make_staff("deskperson", roles=["circulation-desk"])
    admin = make_staff("adminperson", roles=["administrator"])
    with pytest.raises(PermissionDenied):
        services.terminal_create(actor=desk, name="kiosk-b", branch="CNORTH")
    terminal, _ = services.terminal_create(actor=admin, name="kiosk-b", branch="CNORTH")
    with pytest.raises(Conflict):
        services.terminal_create(actor=admin, name="kiosk-b", branch="CNORTH")
    with pytest.raises(PermissionDenied):
        services.terminal_set_password(actor=desk, terminal_id=terminal.pk)
    changed = services.terminal_update(
        actor=admin, terminal_id=terminal.pk, allowed_messages="09,17", require_pin=False
    )
    assert changed.allowed == {"09", "17"} and not changed.require_pin


def test_terminal_actor_acts_only_for_its_patron_sec_acc_1(circ, patron, item):
    a, b = patron(), patron()
    loan_b = circ_services.checkout(
        actor=None, item_barcode=item().barcode, patron_id=b.pk, branch_id=circ["north"].pk
    )
    for_a = _actor(7, a.pk)
    with pytest.raises(PermissionDenied):
        circ_services.renew(actor=for_a, loan_id=loan_b.loan.pk)
    with pytest.raises(PermissionDenied):
        circ_services.checkout(
            actor=for_a,
            item_barcode=item().barcode,
            patron_id=b.pk,
            branch_id=circ["north"].pk,
        )
    with pytest.raises(PermissionDenied):
        circ_selectors.patron_loans(actor=for_a, patron_id=b.pk)
    with pytest.raises(PermissionDenied):  # no patron authenticated at all
        circ_services.checkout(
            actor=_actor(7, None),
            item_barcode=item().barcode,
            patron_id=a.pk,
            branch_id=circ["north"].pk,
        )
    # its own patron: lends, and the loan is listed
    circ_services.checkout(
        actor=for_a, item_barcode=item().barcode, patron_id=a.pk, branch_id=circ["north"].pk
    )
    assert len(circ_selectors.patron_loans(actor=for_a, patron_id=a.pk)) == 1


def test_terminal_actor_without_the_permission_is_refused_sec_acc_1(circ, patron, item):
    a = patron()
    sorter = _actor(8, a.pk, perms=())
    with pytest.raises(PermissionDenied):
        circ_services.checkout(
            actor=sorter,
            item_barcode=item().barcode,
            patron_id=a.pk,
            branch_id=circ["north"].pk,
        )


@override_settings(QUIETSHELF_SIP2_PIN_FAILURES=3, QUIETSHELF_SIP2_TERMINAL_PIN_FAILURES=5)
def test_pin_checks_and_lockouts_prv_auth_1(circ, patron):
    here = Terminal.objects.create(name="here", branch=circ["north"], password_hash="x")
    there = Terminal.objects.create(name="there", branch=circ["north"], password_hash="x")
    p = patron(barcode="230099990001")
    Patron.objects.filter(pk=p.pk).update(pin_hash=None)
    assert services.check_card_pin(terminal=here, card="230099990001", pin="1234").outcome == (
        services.PinOutcome.NO_PIN_SET
    )
    p.set_pin("2580")
    p.save(update_fields=["pin_hash"])
    assert services.check_card_pin(terminal=here, card="230099990001", pin="2580").ok
    for _ in range(3):
        wrong = services.check_card_pin(terminal=here, card="230099990001", pin="0000")
        assert wrong.outcome == services.PinOutcome.WRONG_PIN
    locked = services.check_card_pin(terminal=here, card="230099990001", pin="2580")
    assert locked.outcome == services.PinOutcome.LOCKED and locked.patron is None
    assert services.check_card_pin(terminal=there, card="230099990001", pin="2580").ok
    # guessing across cards at one terminal stops PIN checks there
    for n in range(2):
        unknown = services.check_card_pin(terminal=there, card=f"2399{n:08d}", pin="1")
        assert unknown.outcome == services.PinOutcome.UNKNOWN_CARD
    for _ in range(3):
        services.check_card_pin(terminal=there, card="230099990001", pin="9")
    assert (
        services.check_card_pin(terminal=there, card="239900000099", pin="1").outcome
        == services.PinOutcome.LOCKED
    )
    assert Sip2Failure.objects.count() == 8
    assert not Sip2Failure.objects.filter(account_digest__contains="2300999").exists()


def test_terminal_login_lockout_by_network_int_1(circ, settings):
    terminal, password = services.terminal_create(actor=None, name="kiosk-c", branch="CNORTH")
    for _ in range(settings.QUIETSHELF_SIP2_LOGIN_FAILURES):
        assert (
            services.terminal_login(name="kiosk-c", password="no", ip="10.1.2.3").terminal is None
        )
    assert services.terminal_login(name="kiosk-c", password=password, ip="10.1.2.9").locked
    assert services.terminal_login(name="kiosk-c", password=password, ip="10.9.9.9").terminal
    services.terminal_set_password(actor=None, terminal_id=terminal.pk, password="a-new-one-12345")
    assert services.terminal_login(
        name="kiosk-c", password="a-new-one-12345", ip="10.1.2.3"
    ).terminal
