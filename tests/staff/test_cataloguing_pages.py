"""Staff cataloguing pages: find, record + MARC, core-field edit, items, upload,
branches and item types (issue 3 item 10; SEC-XSS-1, SEC-CSRF-1, SEC-REDIR-1,
SEC-UP-1, SEC-URL-1)."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from quietshelf.catalog import services
from quietshelf.catalog.models import BibRecord, Branch, Item, ItemType
from tests.api.conftest import make_marc
from tests.factories import BranchFactory, ItemFactory, ItemTypeFactory, StaffUserFactory

pytestmark = pytest.mark.django_db(databases="__all__")

PASSWORD = "correct-horse-battery-9"  # the factory's password
HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)>'


@pytest.fixture
def staff(db):
    return StaffUserFactory(username="catalogue-staff", is_superuser=True)


@pytest.fixture
def staff_client(staff):
    c = Client()
    c.force_login(staff)
    return c


@pytest.fixture
def record(db):
    return services.record_create_from_marc(
        actor=None, marc=make_marc("The salt road", control="sp-1", isbn="9788205341234")
    )


@pytest.fixture
def codes(db):
    return BranchFactory(code="MAIN", name="Main library"), ItemTypeFactory(code="BOOK")


# --- sign-in and access ------------------------------------------------------------


def test_staff_pages_need_sign_in(client, record):
    for url in [
        "/staff/",
        "/staff/catalogue/",
        f"/staff/catalogue/records/{record.pk}/",
        f"/staff/catalogue/records/{record.pk}/edit/",
        f"/staff/catalogue/records/{record.pk}/items/add/",
        "/staff/catalogue/upload/",
        "/staff/catalogue/branches/",
        "/staff/catalogue/item-types/",
    ]:
        r = client.get(url)
        assert r.status_code == 302 and r["Location"].startswith("/staff/login/"), url


def test_staff_without_catalogue_permission_gets_403(record):
    c = Client()
    c.force_login(StaffUserFactory(username="desk-only", is_superuser=False))
    assert c.get("/staff/").status_code == 200
    assert c.get("/staff/catalogue/").status_code == 403
    assert c.get(f"/staff/catalogue/records/{record.pk}/edit/").status_code == 403
    r = c.post("/staff/catalogue/branches/", {"code": "X", "name": "X"})
    assert r.status_code == 403 and not Branch.objects.exists()


def test_login_then_redirect_to_own_path(client, staff):
    r = client.post(
        "/staff/login/?next=/staff/catalogue/",
        {"username": staff.username, "password": PASSWORD, "next": "/staff/catalogue/"},
    )
    assert r.status_code == 302 and r["Location"] == "/staff/catalogue/"


@pytest.mark.parametrize(
    "next_url",
    [
        "https://evil.example/phish",
        "//evil.example/phish",
        "/\\evil.example/phish",
        "http://testserver.evil.example/",
        "javascript:alert(1)",
    ],
)
def test_login_refuses_external_next_sec_redir_1(client, staff, next_url):
    r = client.post(
        "/staff/login/", {"username": staff.username, "password": PASSWORD, "next": next_url}
    )
    assert r.status_code == 302
    assert r["Location"] == "/staff/"
    page = client.get(f"/staff/login/?next={next_url}")
    assert "evil.example" not in page.content.decode()


def test_logout_is_post_only(staff_client):
    assert staff_client.get("/staff/logout/").status_code == 405
    r = staff_client.post("/staff/logout/")
    assert r.status_code == 302
    assert staff_client.get("/staff/").status_code == 302


def test_staff_pages_are_no_store_and_home_links_cataloguing(staff_client):
    r = staff_client.get("/staff/")
    assert r["Cache-Control"] == "no-store"
    html = r.content.decode()
    for url in ["/staff/catalogue/", "/staff/catalogue/upload/", "/staff/catalogue/branches/"]:
        assert f'href="{url}"' in html


def test_posts_need_csrf_token_sec_csrf_1(staff, record, codes):
    c = Client(enforce_csrf_checks=True)
    c.force_login(staff)
    for url, data in [
        (f"/staff/catalogue/records/{record.pk}/edit/", {"title": "Changed"}),
        (
            f"/staff/catalogue/records/{record.pk}/items/add/",
            {"barcode": "C1", "branch": "MAIN", "item_type": "BOOK", "status": "available"},
        ),
        ("/staff/catalogue/branches/", {"code": "C", "name": "C"}),
        ("/staff/catalogue/item-types/", {"code": "C", "name": "C"}),
        ("/staff/catalogue/upload/", {}),
    ]:
        assert c.post(url, data).status_code == 403, url
    assert BibRecord.objects.get().title == "The salt road"
    assert not Item.objects.exists()


# --- finding records ------------------------------------------------------------------


def test_find_by_keyword_uses_search(staff_client, record):
    r = staff_client.get("/staff/catalogue/", {"q": "salt"})
    assert r.status_code == 200
    assert f'href="/staff/catalogue/records/{record.pk}/"' in r.content.decode()
    r = staff_client.get("/staff/catalogue/", {"q": "x" * 499 + '"'})
    assert r.status_code == 200


@pytest.mark.parametrize("term", ["LOOK-1", "978-82-05-34123-4", "82-05-34123-0", "sp-1"])
def test_lookup_by_barcode_isbn_or_control_number_goes_to_record(staff_client, record, codes, term):
    ItemFactory(record=record, branch=codes[0], item_type=codes[1], barcode="LOOK-1")
    r = staff_client.get("/staff/catalogue/", {"lookup": term})
    assert r.status_code == 302 and r["Location"] == f"/staff/catalogue/records/{record.pk}/"


def test_lookup_with_no_hit_says_so(staff_client, record):
    r = staff_client.get("/staff/catalogue/", {"lookup": "nothing-like-this"})
    assert r.status_code == 200 and "0 records found" in r.content.decode()


# --- record page and MARC view ------------------------------------------------------------


def test_record_page_shows_items_and_marc(staff_client, record, codes):
    ItemFactory(record=record, branch=codes[0], item_type=codes[1], barcode="SHOW-1",
                staff_note="behind the desk")  # fmt: skip
    r = staff_client.get(f"/staff/catalogue/records/{record.pk}/")
    html = r.content.decode()
    assert r.status_code == 200
    assert "SHOW-1" in html and "behind the desk" in html
    assert "245" in html and "The salt road" in html and "9788205341234" in html


def test_record_page_unknown_or_huge_id_is_404(staff_client):
    assert staff_client.get("/staff/catalogue/records/999999/").status_code == 404
    assert staff_client.get("/staff/catalogue/records/99999999999999999999999/").status_code == 404


def test_hostile_marc_title_is_escaped_everywhere_sec_xss_1(staff_client, codes):
    rec = services.record_create_from_marc(
        actor=None, marc=make_marc(HOSTILE, control="xss-1", author=HOSTILE)
    )
    ItemFactory(record=rec, branch=codes[0], item_type=codes[1], barcode="XSS-1",
                public_note=HOSTILE, staff_note=HOSTILE)  # fmt: skip
    Branch.objects.filter(pk=codes[0].pk).update(name=HOSTILE)
    pages = [
        f"/staff/catalogue/records/{rec.pk}/",
        f"/staff/catalogue/records/{rec.pk}/edit/",
        f"/staff/catalogue/records/{rec.pk}/items/add/",
        f"/staff/catalogue/items/{rec.items.get().pk}/edit/",
        "/staff/catalogue/?q=script",
        "/staff/catalogue/?lookup=XSS-1",
        "/staff/catalogue/branches/",
    ]
    for url in pages:
        r = staff_client.get(url, follow=True)
        html = r.content.decode()
        assert r.status_code == 200, url
        assert "<script>alert" not in html and "<img src=x" not in html, url
    html = staff_client.get(f"/staff/catalogue/records/{rec.pk}/").content.decode()
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in html


# --- editing core fields ------------------------------------------------------------------


def test_edit_core_fields_saves_through_the_service(staff_client, record):
    r = staff_client.get(f"/staff/catalogue/records/{record.pk}/edit/")
    assert 'value="The salt road"' in r.content.decode()
    assert '<label for="id_title">' in r.content.decode()
    r = staff_client.post(
        f"/staff/catalogue/records/{record.pk}/edit/",
        {"title": "The salt road home", "year": "2019", "language": "NNO", "edition": "2. utg."},
    )
    assert r.status_code == 302
    record.refresh_from_db()
    assert (record.title, record.year, record.language) == ("The salt road home", 2019, "nno")
    assert record.edition.startswith("2. utg")
    assert any("250" in f for f in record.marc_json["fields"])


@pytest.mark.parametrize(
    "data",
    [{"title": ""}, {"title": "ok", "year": "abc"}, {"title": "ok", "language": "english"}],
)
def test_edit_core_fields_bad_input_is_a_form_error(staff_client, record, data):
    r = staff_client.post(f"/staff/catalogue/records/{record.pk}/edit/", data)
    assert r.status_code == 200 and 'class="errorlist"' in r.content.decode()
    record.refresh_from_db()
    assert record.title == "The salt road"


# --- items -------------------------------------------------------------------------------


def _item_post(**over):
    data = {"barcode": "NEW-1", "branch": "MAIN", "item_type": "BOOK", "status": "available"}
    data.update(over)
    return data


def test_add_item(staff_client, record, codes):
    r = staff_client.post(
        f"/staff/catalogue/records/{record.pk}/items/add/",
        _item_post(price="349.50", call_number="839.82 Sal", staff_note="new"),
    )
    assert r.status_code == 302
    item = Item.objects.get()
    assert (item.barcode, item.price_minor, item.call_number) == ("NEW-1", 34950, "839.82 Sal")


def test_add_item_duplicate_barcode_is_a_form_error_nothing_saved(staff_client, record, codes):
    ItemFactory(record=record, branch=codes[0], item_type=codes[1], barcode="TAKEN-1")
    r = staff_client.post(
        f"/staff/catalogue/records/{record.pk}/items/add/", _item_post(barcode="TAKEN-1")
    )
    assert r.status_code == 200
    html = r.content.decode()
    assert "This barcode is already in use by another item." in html
    assert 'id="id_barcode_errors"' in html
    assert Item.objects.count() == 1


def test_edit_item_and_duplicate_barcode_on_edit(staff_client, record, codes):
    ItemFactory(record=record, branch=codes[0], item_type=codes[1], barcode="TAKEN-2")
    item = ItemFactory(record=record, branch=codes[0], item_type=codes[1], barcode="MINE-1")
    url = f"/staff/catalogue/items/{item.pk}/edit/"
    assert 'value="MINE-1"' in staff_client.get(url).content.decode()
    r = staff_client.post(url, _item_post(barcode="TAKEN-2"))
    assert r.status_code == 200 and "already in use" in r.content.decode()
    r = staff_client.post(url, _item_post(barcode="MINE-1", status="damaged"))
    assert r.status_code == 302
    item.refresh_from_db()
    assert (item.barcode, item.status) == ("MINE-1", "damaged")


@pytest.mark.parametrize(
    "over",
    [{"barcode": "has space"}, {"branch": "NOPE"}, {"price": "-1"}, {"price": "1e30"}],
)
def test_add_item_bad_input_is_a_form_error(staff_client, record, codes, over):
    r = staff_client.post(f"/staff/catalogue/records/{record.pk}/items/add/", _item_post(**over))
    assert r.status_code == 200 and 'class="errorlist"' in r.content.decode()
    assert not Item.objects.exists()


# --- upload -------------------------------------------------------------------------------


def _file(data: bytes, name="batch.mrc"):
    return SimpleUploadedFile(name, data, content_type="application/octet-stream")


def test_upload_shows_summary_with_error_positions(staff_client):
    data = (
        make_marc("Upload one", control="u1").as_marc()
        + b"00042xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\x1d"
        + make_marc("Upload two", control="u2", items=[{"barcode": "UP-1"}]).as_marc()
    )
    r = staff_client.post("/staff/catalogue/upload/", {"file": _file(data)})
    assert r.status_code == 200
    html = r.content.decode()
    assert 'data-count="created">2<' in html and 'data-count="items">1<' in html
    assert 'data-count="skipped">1<' in html and 'data-count="errors">1<' in html
    assert "<td>2</td>" in html  # the position of the bad record
    assert BibRecord.objects.count() == 2


def test_upload_not_marc_is_a_form_error_sec_up_1(staff_client):
    r = staff_client.post(
        "/staff/catalogue/upload/", {"file": _file(b"%PDF-1.7 a brochure", "brochure.pdf")}
    )
    assert r.status_code == 200 and "This is not a MARC file" in r.content.decode()
    assert not BibRecord.objects.exists()


def test_upload_too_large_is_a_form_error(staff_client, settings):
    settings.QUIETSHELF_MAX_UPLOAD_BYTES = 50
    r = staff_client.post("/staff/catalogue/upload/", {"file": _file(make_marc().as_marc())})
    assert r.status_code == 413
    assert "larger than the limit of 50 bytes" in r.content.decode()
    assert 'id="id_file_errors"' in r.content.decode()
    assert not BibRecord.objects.exists()


def test_upload_hostile_file_name_and_reasons_are_escaped(staff_client):
    r = staff_client.post(
        "/staff/catalogue/upload/",
        {"file": _file(b"00042<script>alert(1)</script>xxxxxxxxxxx\x1d", "<b>x</b>.mrc")},
    )
    assert r.status_code == 200 and "<script>alert(1)" not in r.content.decode()


# --- branches and item types -----------------------------------------------------------------


def test_branches_list_and_add(staff_client):
    r = staff_client.post("/staff/catalogue/branches/", {"code": "NORD", "name": "Nordre"})
    assert r.status_code == 302
    r = staff_client.get("/staff/catalogue/branches/")
    assert "Nordre" in r.content.decode()
    r = staff_client.post("/staff/catalogue/branches/", {"code": "NORD", "name": "Again"})
    assert r.status_code == 200 and "already in use" in r.content.decode()
    r = staff_client.post("/staff/catalogue/branches/", {"code": "has space", "name": "x"})
    assert r.status_code == 200 and 'class="errorlist"' in r.content.decode()
    assert list(Branch.objects.values_list("code", "name")) == [("NORD", "Nordre")]


def test_item_types_list_and_add(staff_client):
    r = staff_client.post("/staff/catalogue/item-types/", {"code": "REF", "name": "Reference"})
    assert r.status_code == 302
    assert ItemType.objects.get(code="REF").circulates is False  # unchecked box
    r = staff_client.post(
        "/staff/catalogue/item-types/", {"code": "DVD", "name": "Film", "circulates": "on"}
    )
    assert ItemType.objects.get(code="DVD").circulates is True
    assert "Reference" in staff_client.get("/staff/catalogue/item-types/").content.decode()


def test_oversized_upload_is_stopped_while_streaming_sec_up_1(staff_client, settings):
    settings.QUIETSHELF_MAX_UPLOAD_BYTES = 1000
    big = make_marc("Big").as_marc() * 400  # ~100 kB: refused from its Content-Length
    r = staff_client.post("/staff/catalogue/upload/", {"file": _file(big)})
    assert r.status_code == 413
    assert "The upload is larger than the limit of 1,000 bytes." in r.content.decode()
    assert not BibRecord.objects.exists()


def test_oversized_upload_without_sign_in_is_not_shown_the_form(client, settings):
    settings.QUIETSHELF_MAX_UPLOAD_BYTES = 1000
    r = client.post("/staff/catalogue/upload/", {"file": _file(b"0" * 100_000)})
    # to the sign-in page, not the 413 page with the form (#14 item 8: one right answer)
    assert r.status_code == 302 and "login" in r["Location"], r


@pytest.mark.parametrize("params", [{"q": "salt\x00"}, {"lookup": "LOOK\x00-1"}])
def test_find_with_control_characters_is_not_a_500(staff_client, record, params):
    assert staff_client.get("/staff/catalogue/", params).status_code == 200
