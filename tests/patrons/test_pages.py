"""Staff patron pages: find by POST (SEC-URL-1), escaping (SEC-XSS-1), CSRF (SEC-CSRF-1),
form errors, scope 404 with audit, no-store."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from quietshelf.accounts.testing import signed_in_client
from quietshelf.patrons.models import Card, Patron, PatronLoadMapping, StaffNote
from quietshelf.privacy.models import AuditEntry

pytestmark = pytest.mark.django_db

FIND = "/staff/patrons/"


@pytest.fixture
def web(manager):
    return signed_in_client(manager)


def test_find_by_barcode_posts_and_redirects_without_the_barcode_in_any_url_SEC_URL_1(
    web, new_patron
):
    p = new_patron(barcode="URL-SECRET-77")
    r = web.post(FIND, {"q": "URL-SECRET-77", "kind": "any"})
    assert r.status_code == 302
    assert r["Location"] == f"/staff/patrons/{p.pk}/"
    assert "SECRET" not in r["Location"]
    page = web.get(r["Location"])
    assert page.status_code == 200
    assert page["Cache-Control"] == "no-store"
    assert b"URL-SECRET-77" in page.content
    assert AuditEntry.objects.filter(action="viewed", object_id=str(p.pk)).exists()
    assert b'id="history"' in page.content and b"viewed" in page.content
    assert b'id="history"' in page.content and b"viewed" in page.content
    # the find form itself never uses GET
    assert b'method="post" action="/staff/patrons/"' in web.get(FIND).content


def test_find_by_name_lists_several(web, new_patron):
    new_patron(given_name="Tone", family_name="Eikrem")
    new_patron(given_name="Tone", family_name="Eide")
    r = web.post(FIND, {"q": "tone ei", "kind": "name"})
    assert r.status_code == 200
    assert b"Eikrem" in r.content and b"Eide" in r.content


def test_names_and_notes_with_html_are_escaped_SEC_XSS_1(web, new_patron, manager):
    from quietshelf.patrons import services

    p = new_patron(given_name="<script>alert(1)</script>", family_name='"><img src=x onerror=y>')
    services.note_add(actor=manager, patron_id=p.pk, text="<b onmouseover=z>bold</b>")
    body = web.get(f"/staff/patrons/{p.pk}/").content.decode()
    assert "<script>alert(1)</script>" not in body
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body
    assert "<img src=x" not in body and "<b onmouseover" not in body


def test_register_with_duplicate_barcode_is_a_form_error(web, new_patron, branches):
    new_patron(barcode="TAKEN-1")
    r = web.post(
        "/staff/patrons/new/",
        {
            "given_name": "Liv",
            "family_name": "Aune",
            "barcode": "taken1",
            "status": "active",
            "notification_channel": "email",
            "home_branch": "NORTH",
        },
    )
    assert r.status_code == 200
    assert b"already in use" in r.content
    assert Patron.objects.count() == 1
    r = web.post(
        "/staff/patrons/new/",
        {
            "given_name": "Liv",
            "barcode": "FREE-1",
            "email": "no-at-sign",
            "status": "active",
            "notification_channel": "email",
        },
    )
    assert r.status_code == 200 and b"valid e-mail" in r.content
    r = web.post(
        "/staff/patrons/new/",
        {
            "given_name": "Liv",
            "barcode": "FREE-1",
            "email": "liv@example.org",
            "status": "active",
            "notification_channel": "email",
            "home_branch": "NORTH",
        },
    )
    assert r.status_code == 302
    assert Card.objects.count() == 2


def test_note_warning_then_confirm_PAT_2(web, new_patron):
    p = new_patron()
    url = f"/staff/patrons/{p.pk}/note/"
    r = web.post(url, {"text": "Fikk vite at hun er gravid"})
    assert r.status_code == 200
    assert b'id="note-warning"' in r.content and b"health" in r.content
    assert not StaffNote.objects.exists()
    r = web.post(url, {"text": "Fikk vite at hun er gravid", "confirmed": "on"})
    assert r.status_code == 302
    assert StaffNote.objects.get().warning_confirmed


def test_block_lift_and_card_replace_pages(web, new_patron):
    p = new_patron(barcode="PG-1")
    assert web.post(f"/staff/patrons/{p.pk}/block/", {"reason_code": "manual"}).status_code == 302
    block = p.blocks.get()
    r = web.post(f"/staff/patrons/{p.pk}/block/{block.pk}/lift/", {"reason": ""})
    assert r.status_code == 200  # the reason is required
    r = web.post(f"/staff/patrons/{p.pk}/block/{block.pk}/lift/", {"reason": "Paid"})
    assert r.status_code == 302
    r = web.post(f"/staff/patrons/{p.pk}/card/", {"barcode": "PG-1"})
    assert r.status_code == 200 and b"already in use" in r.content
    assert web.post(f"/staff/patrons/{p.pk}/card/", {"barcode": "PG-2"}).status_code == 302
    r = web.post(f"/staff/patrons/{p.pk}/card/", {"barcode": "PG-1"})
    assert b"never issued again" in r.content


def test_every_form_refuses_a_post_without_csrf_SEC_CSRF_1(manager, new_patron):
    p = new_patron()
    block = p.blocks.create(subject_id=p.subject_id, reason_code="manual")
    contact = p.contacts.create(subject_id=p.subject_id, kind="address", value="Vei 1")
    client = signed_in_client(manager, client=Client(enforce_csrf_checks=True))
    urls = [
        FIND,
        "/staff/patrons/new/",
        f"/staff/patrons/{p.pk}/edit/",
        f"/staff/patrons/{p.pk}/card/",
        f"/staff/patrons/{p.pk}/contact/",
        f"/staff/patrons/{p.pk}/contact/{contact.pk}/remove/",
        f"/staff/patrons/{p.pk}/identifier/",
        f"/staff/patrons/{p.pk}/note/",
        f"/staff/patrons/{p.pk}/block/",
        f"/staff/patrons/{p.pk}/block/{block.pk}/lift/",
        f"/staff/patrons/{p.pk}/override/",
        f"/staff/patrons/{p.pk}/proxy/",
        "/staff/patrons/loads/",
        "/staff/patrons/loads/mapping/new/",
    ]
    for url in urls:
        assert client.post(url, {"q": "x", "text": "x", "reason": "x"}).status_code == 403, url


def test_other_branch_patron_pages_are_404_and_audited(north_desk, new_patron):
    theirs = new_patron("south")
    client = signed_in_client(north_desk)
    for suffix in ("", "edit/", "card/", "note/", "block/", "override/", "contact/"):
        assert client.get(f"/staff/patrons/{theirs.pk}/{suffix}").status_code == 404, suffix
    assert client.post(f"/staff/patrons/{theirs.pk}/note/", {"text": "x"}).status_code == 404
    denied = AuditEntry.objects.filter(action="denied", object_id=str(theirs.pk))
    assert denied.count() == 8


def test_staff_without_patron_permission_gets_403(cataloguer, new_patron):
    p = new_patron()
    client = signed_in_client(cataloguer)
    assert client.get(f"/staff/patrons/{p.pk}/").status_code == 403
    # the find page itself is for all staff; the search is refused in its form (#14 item 8)
    found = client.post(FIND, {"q": "x", "kind": "any"})
    assert found.status_code == 200
    assert b"You do not have permission for this." in found.content
    assert found.context["results"] is None
    assert client.get("/staff/patrons/loads/").status_code == 403


def test_signed_out_is_sent_to_sign_in(client, new_patron):
    p = new_patron()
    r = client.get(f"/staff/patrons/{p.pk}/")
    assert r.status_code == 302 and "/staff/" in r["Location"]


@pytest.mark.parametrize("on_disk", [False, True])
def test_load_page_with_mapping_INT_3(web, branches, groups, settings, on_disk):
    if on_disk:
        settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 0  # the upload goes to a temporary file
    r = web.post(
        reverse("staff_patrons:mapping_new"),
        {
            "name": "campus",
            "match_type": "institutional_id",
            "columns": '{"sid": "identifier:institutional_id", "name": "name"}',
            "default_branch": "NORTH",
        },
    )
    assert r.status_code == 302
    mapping = PatronLoadMapping.objects.get(name="campus")
    from django.core.files.uploadedfile import SimpleUploadedFile

    data = b"sid,name\nK1,\"Nygaard, Elin\"\nK2,=cmd|' /C calc'!A0\n"
    r = web.post(
        "/staff/patrons/loads/",
        {
            "file": SimpleUploadedFile("p.csv", data, content_type="text/csv"),
            "format": "csv",
            "mapping": mapping.pk,
        },
    )
    assert r.status_code == 200
    assert b"1 created" in r.content and b"formula" in r.content
    assert Patron.objects.get().family_name == "Nygaard"


def test_staff_send_password_link_from_the_patron_page_PRV_AUTH_1(
    web, new_patron, mailoutbox, django_capture_on_commit_callbacks
):
    """PRV-AUTH-1: staff trigger the link; only the patron receives it; no secret is shown."""
    p = new_patron(email="tove.lien@example.org")
    url = reverse("staff_patrons:password_link", args=[p.pk])
    assert web.get(url).status_code == 405  # a state change is POST only
    with django_capture_on_commit_callbacks(execute=True):
        response = web.post(url, follow=True)
    assert response.status_code == 200
    page = response.content.decode()
    assert "sent to the patron" in page
    assert len(mailoutbox) == 1
    message = mailoutbox[0]
    assert message.to == ["tove.lien@example.org"]
    link = [w for w in message.body.split() if "/account/" in w][0]
    assert link.split("/")[-2] not in page  # the token never reaches the staff page
    assert AuditEntry.objects.filter(action="password_link_sent").count() == 1


def test_staff_approve_pending_registration(web, new_patron):
    p = new_patron()
    Patron.objects.filter(pk=p.pk).update(status="pending")
    page = web.get(reverse("staff_patrons:patron", args=[p.pk])).content.decode()
    assert "Approve registration" in page
    response = web.post(reverse("staff_patrons:approve", args=[p.pk]))
    assert response.status_code == 302
    assert Patron.objects.get(pk=p.pk).status == "active"


def test_csrf_missing_on_new_patron_buttons_is_403_SEC_CSRF_1(manager, new_patron):
    p = new_patron()
    client = signed_in_client(manager, client=Client(enforce_csrf_checks=True))
    for name in ("password_link", "approve"):
        assert client.post(reverse(f"staff_patrons:{name}", args=[p.pk])).status_code == 403


def test_renaming_a_mapping_is_one_transaction_INT_3(web, branches, groups):
    """INT-3 (#14 item 6): a rename the service refuses leaves the saved mapping as it was
    (the page once deleted the old mapping before the new one was checked)."""
    from quietshelf.patrons import loads

    saved = loads.mapping_save(
        actor=None,
        name="campus",
        data={"columns": {"sid": "identifier:institutional_id"}, "match_type": "institutional_id"},
    )
    url = reverse("staff_patrons:mapping_edit", args=[saved.pk])
    rename = web.post(
        url,
        {
            "name": "campus-2",
            "match_type": "institutional_id",
            "columns": '{"sid": "identifier:institutional_id"}',
            "default_branch": "NORTH",
            "default_group": "",
        },
    )
    assert rename.status_code == 302  # a valid rename …
    assert list(PatronLoadMapping.objects.values_list("name", flat=True)) == ["campus-2"]
    renamed = PatronLoadMapping.objects.get()
    bad = web.post(
        reverse("staff_patrons:mapping_edit", args=[renamed.pk]),
        {"name": "campus-3", "match_type": "institutional_id", "columns": '{"sid": "nosuch"}'},
    )
    assert bad.status_code == 200 and b"Unknown target field" in bad.content
    # … and a refused one keeps the mapping under its old name
    assert list(PatronLoadMapping.objects.values_list("name", flat=True)) == ["campus-2"]


def test_the_api_and_the_page_choose_a_mapping_in_one_place_INT_3(manager, staff_factory):
    """INT-3 (#14 item 6): loads.mapping_for_load checks the permission and picks the
    saved or inline mapping for the API, the staff page and the command line."""
    from quietshelf.core.errors import InvalidInput, PermissionDenied
    from quietshelf.patrons import loads

    with pytest.raises(InvalidInput) as missing:
        loads.mapping_for_load(actor=manager, mapping_name="nosuch")
    assert missing.value.code == "unknown_mapping"
    with pytest.raises(InvalidInput) as neither:
        loads.mapping_for_load(actor=manager)
    assert neither.value.code == "mapping_required"
    inline = loads.mapping_for_load(
        actor=manager,
        mapping={
            "columns": {"sid": "identifier:institutional_id"},
            "match_type": "institutional_id",
        },
    )
    assert inline.match_type == "institutional_id"
    clerk = staff_factory("noloads", roles=("cataloguer",))
    with pytest.raises(PermissionDenied):
        loads.mapping_for_load(actor=clerk, mapping_name="nosuch")
    assert loads.may_load(manager) and not loads.may_load(clerk)
