"""PAT-1, PAT-2, PAT-3, SEC-ID-1, PRV-ACC-1: patron services and selectors, scope and audit."""

from __future__ import annotations

import datetime as dt

import pytest

from quietshelf.core.errors import InvalidInput, PermissionDenied
from quietshelf.patrons import selectors, services
from quietshelf.patrons.errors import (
    DuplicateBarcode,
    DuplicateIdentifier,
    MissingRequired,
    NoteNeedsConfirmation,
    PatronNotFound,
)
from quietshelf.patrons.models import Block, Card, ContactPoint, RetiredIdentifier, StaffNote
from quietshelf.privacy.models import AuditEntry

pytestmark = pytest.mark.django_db


def entries(action: str, patron=None):
    qs = AuditEntry.objects.filter(action=action)
    if patron is not None:
        qs = qs.filter(object_id=str(patron.pk))
    return list(qs)


def test_only_name_and_one_identifier_are_required_PAT_1(branches, manager):
    p = services.patron_register(actor=manager, family_name="Aasen", barcode="A1")
    assert p.display_name == "Aasen"
    p2 = services.patron_register(
        actor=manager, given_name="Kari", identifiers=[("student_number", "ST-77")]
    )
    assert selectors.patron_by_identifier("student_number", "st77") == p2
    with pytest.raises(MissingRequired):
        services.patron_register(actor=manager, barcode="A2")
    with pytest.raises(MissingRequired):
        services.patron_register(actor=manager, given_name="Nobody")
    assert entries("created", p)


def test_all_optional_fields_and_lookups_PAT_1(new_patron, groups):
    p = new_patron(
        given_name="Sigrun",
        family_name="Haugland",
        barcode="2100-5555",
        email="Sigrun.H@Example.org",
        phone="+47 400 00 001",
        address="Fjordveien 3\n5003 Bergen",
        date_of_birth=dt.date(2015, 3, 4),
        preferred_language="nb",
        notification_channel="sms",
        expiry_date=dt.date(2030, 1, 1),
        erase_after=dt.date(2031, 1, 1),
        identifiers=[("institutional_id", "U-1234")],
    )
    assert selectors.patron_by_card_barcode("21005555") == p
    assert selectors.patron_by_email("sigrun.h@example.org") == p
    assert selectors.patron_by_identifier("institutional_id", "u1234") == p
    d = selectors.patron_detail(actor=None, patron_id=p.pk)
    assert d.is_minor
    assert {c.kind for c in d.contacts} == {"email", "phone", "address"}
    assert d.patron.group == groups["student"]
    assert [c.value for c in d.contacts if c.kind == "phone"] == ["+4740000001"]


def test_bad_email_and_phone_are_clear_errors(new_patron):
    with pytest.raises(InvalidInput, match="valid e-mail"):
        new_patron(email="not-an-address")
    with pytest.raises(InvalidInput, match="phone number"):
        new_patron(phone="ring meg")


def test_duplicate_barcode_and_identifier_conflict(new_patron):
    new_patron(barcode="DUP-1", identifiers=[("institutional_id", "X1")])
    with pytest.raises(DuplicateBarcode):
        new_patron(barcode="dup1")
    with pytest.raises(DuplicateIdentifier):
        new_patron(identifiers=[("institutional_id", "x-1")])
    # the same value under another type is a different identifier
    new_patron(identifiers=[("student_number", "X1")])


def test_replaced_card_number_is_never_issued_again_SEC_ID_1(new_patron):
    p = new_patron(barcode="OLD-1")
    card = services.card_replace(actor=None, patron_id=p.pk, barcode="NEW-1")
    assert card.active and Card.objects.filter(patron=p).count() == 2
    assert Card.objects.filter(patron=p, active=True).count() == 1
    assert selectors.patron_by_card_barcode("OLD-1") is None
    assert selectors.patron_by_card_barcode("NEW-1") == p
    assert RetiredIdentifier.objects.count() == 1
    with pytest.raises(DuplicateBarcode, match="never issued again"):
        new_patron(barcode="OLD-1")
    with pytest.raises(DuplicateBarcode):
        services.card_replace(actor=None, patron_id=p.pk, barcode="OLD-1")
    # even when the card rows are gone (the patron erased), the retired number stays
    p.delete()
    assert not Card.objects.exists()
    with pytest.raises(DuplicateBarcode, match="never issued again"):
        new_patron(barcode="old-1")


def test_contacts_preferred_and_update(new_patron):
    p = new_patron(email="a@example.org")
    services.contact_add(
        actor=None, patron_id=p.pk, kind="email", value="b@example.net", preferred=True
    )
    prefs = ContactPoint.objects.filter(patron=p, kind="email", preferred=True)
    assert [c.value for c in prefs] == ["b@example.net"]
    services.patron_update_contact(actor=None, patron_id=p.pk, phone="+47 99 88 77 66", email="")
    assert selectors.patron_preferred_contact(p, "phone") == "+4799887766"
    assert selectors.patron_by_email("b@example.net") is None  # the preferred one was removed
    assert selectors.patron_by_email("a@example.org") == p


def test_note_with_special_category_needs_confirmation_PAT_2(new_patron, manager):
    p = new_patron()
    with pytest.raises(NoteNeedsConfirmation) as exc:
        services.note_add(actor=manager, patron_id=p.pk, text="Mentioned her epilepsy")
    assert "health" in exc.value.details["warnings"]
    assert not StaffNote.objects.exists()
    note = services.note_add(
        actor=manager, patron_id=p.pk, text="Mentioned her epilepsy", confirmed=True
    )
    assert note.warning_confirmed and note.author == manager
    plain = services.note_add(actor=manager, patron_id=p.pk, text="Prefers audiobooks")
    assert not plain.warning_confirmed


def test_blocks_history_lift_override_and_audit_PAT_3(new_patron, manager):
    p = new_patron()
    block = services.block_add(
        actor=manager, patron_id=p.pk, reason_code="conduct", comment="Shouted at the desk"
    )
    d = selectors.patron_detail(actor=manager, patron_id=p.pk)
    assert [b.code for b in d.effective_blocks] == ["conduct"]
    services.block_override(actor=manager, patron_id=p.pk, block_id=block.pk, reason="Exam week")
    with pytest.raises(InvalidInput):
        services.block_lift(actor=manager, block_id=block.pk, reason="  ")
    services.block_lift(actor=manager, block_id=block.pk, reason="Apologised")
    block.refresh_from_db()
    assert block.lifted_at and block.lifted_by == manager and block.lift_reason == "Apologised"
    assert Block.objects.filter(patron=p).count() == 1  # history kept
    d = selectors.patron_detail(actor=manager, patron_id=p.pk)
    assert d.effective_blocks == []
    for action in ("blocked", "overridden", "unblocked"):
        (entry,) = entries(action, p)
        assert entry.actor_id == str(manager.pk)
    with pytest.raises(InvalidInput):
        services.block_lift(actor=manager, block_id=block.pk, reason="again")


def test_expired_card_is_an_automatic_block_PAT_3(new_patron):
    p = new_patron(expiry_date=dt.date(2020, 1, 1))
    d = selectors.patron_detail(actor=None, patron_id=p.pk)
    assert [(b.code, b.automatic) for b in d.effective_blocks] == [("expired", True)]
    services.block_override(actor=None, patron_id=p.pk, code="expired", reason="Renewing now")
    assert entries("overridden", p)


def test_view_change_and_search_are_audited_without_terms_PRV_ACC_1(new_patron, manager):
    p = new_patron(given_name="Ragnhild", family_name="Brekke", barcode="SEARCH-1")
    selectors.patron_detail(actor=manager, patron_id=p.pk)
    assert entries("viewed", p)[0].actor_id == str(manager.pk)
    services.patron_update(actor=manager, patron_id=p.pk, family_name="Brekke-Li")
    (changed,) = entries("changed", p)
    assert changed.reason == "family_name"
    found = selectors.patron_search(actor=manager, query="ragn")
    assert found == [p]
    assert selectors.patron_search(actor=manager, query="SEARCH-1") == [p]
    searched = entries("searched")
    assert [e.reason for e in searched] == ["by name", "by barcode"]
    for e in AuditEntry.objects.all():
        blob = " ".join([e.reason, e.object_id, e.object_type]).lower()
        assert "ragn" not in blob and "search-1" not in blob and "brekke" not in blob


def test_name_search_matches_words_and_prefix(new_patron):
    a = new_patron(given_name="Åse Marie", family_name="Nordvik")
    new_patron(given_name="Åsmund", family_name="Berg")
    assert selectors.patron_search(actor=None, query="nordv") == [a]
    assert selectors.patron_search(actor=None, query="åse nord", kind="name") == [a]
    assert len(selectors.patron_search(actor=None, query="ås", kind="name")) == 2
    assert selectors.patron_search(actor=None, query="zzzz", kind="name") == []


def test_other_branch_patron_is_not_found_and_the_attempt_audited_PRV_ACC_1(new_patron, north_desk):
    mine = new_patron("north")
    theirs = new_patron("south", family_name="Sørheim", barcode="SOUTH-1")
    assert selectors.patron_get(actor=north_desk, patron_id=mine.pk) == mine
    with pytest.raises(PatronNotFound):
        selectors.patron_detail(actor=north_desk, patron_id=theirs.pk)
    with pytest.raises(PatronNotFound):
        services.patron_update(actor=north_desk, patron_id=theirs.pk, given_name="X")
    with pytest.raises(PatronNotFound):
        services.block_add(actor=north_desk, patron_id=theirs.pk, reason_code="manual")
    denied = entries("denied", theirs)
    assert len(denied) == 3 and all(e.actor_id == str(north_desk.pk) for e in denied)
    assert not entries("viewed", theirs)
    # search never reaches the other branch
    assert selectors.patron_search(actor=north_desk, query="SOUTH-1") == []
    assert selectors.patron_search(actor=north_desk, query="sørh") == []
    # registering at a branch outside the scope is refused
    with pytest.raises(PermissionDenied):
        services.patron_register(
            actor=north_desk, given_name="Y", barcode="Y1", home_branch="SOUTH"
        )


def test_staff_without_patron_permission_reaches_nothing_SEC_ACC_1(new_patron, cataloguer):
    p = new_patron()
    with pytest.raises(PermissionDenied):
        selectors.patron_detail(actor=cataloguer, patron_id=p.pk)
    with pytest.raises(PermissionDenied):
        selectors.patron_search(actor=cataloguer, query=p.family_name)
    with pytest.raises(PermissionDenied):
        services.patron_register(actor=cataloguer, given_name="Z", barcode="Z1")
    assert entries("denied", p)


def test_gates_apply_untrained_staff_reach_nothing(new_patron, staff_factory):
    p = new_patron()
    untrained = staff_factory("untrained", trained=False)
    with pytest.raises(PermissionDenied):
        selectors.patron_detail(actor=untrained, patron_id=p.pk)


def test_erased_patron_card_numbers_are_never_reissued_SEC_ID_1(new_patron, manager):
    from quietshelf.patrons.models import Patron
    from quietshelf.privacy.models import Subject

    p = new_patron(barcode="ERASE-1", email="gone@example.org")
    subject_id = p.subject_id
    services.patron_erase(actor=manager, patron_id=p.pk, reason="patron request")
    assert not Patron.objects.filter(pk=p.pk).exists()
    assert Subject.objects.get(pk=subject_id).forgotten_at is not None
    assert entries("erased", p)
    assert selectors.patron_by_email("gone@example.org") is None
    with pytest.raises(DuplicateBarcode, match="never issued again"):
        new_patron(barcode="ERASE-1")
    # a card row deleted any other way is retired too
    q = new_patron(barcode="DEL-1")
    q.cards.all().delete()
    with pytest.raises(DuplicateBarcode):
        new_patron(barcode="DEL-1")


def test_erasing_needs_the_permission(new_patron, staff_factory):
    p = new_patron()
    desk = staff_factory("desk", roles=("circulation-desk",))
    with pytest.raises(PermissionDenied):
        services.patron_erase(actor=desk, patron_id=p.pk)
