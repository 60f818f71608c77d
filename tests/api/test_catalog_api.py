"""The catalogue REST API: every route, a denial per write route, the error shape.

Requirements: CAT-1 (catalogue), SEC-ACC-1 (writes need a permitted staff
token), SEC-UP-1 (uploads checked), SEC-DOS-1 (rate limit, no 500 on bad
input), SEC-SQL-1 (query syntax never reaches the engine).
"""

from __future__ import annotations

import io
import re

import pytest
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from pymarc import MARCReader, parse_xml_to_array, record_to_xml

from quietshelf.catalog import services
from quietshelf.catalog.models import BibRecord, Branch, Item, ItemType
from tests.api.conftest import make_marc
from tests.factories import BranchFactory, ItemFactory, ItemTypeFactory

pytestmark = pytest.mark.django_db(databases="__all__")

JSON = "application/json"


def assert_error(response, status: int, code: str | None = None) -> dict:
    """The one error shape: {"error": {"code", "message"}} with this 4xx status."""
    assert response.status_code == status, response.content[:500]
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"}
    assert isinstance(body["error"]["code"], str) and body["error"]["code"]
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    if code:
        assert body["error"]["code"] == code, body
    return body["error"]


@pytest.fixture
def record(db):
    return services.record_create_from_marc(actor=None, marc=make_marc("Salt and silence"))


@pytest.fixture
def codes(db):
    return BranchFactory(code="MAIN", name="Main library"), ItemTypeFactory(code="BOOK")


# --- OpenAPI ---------------------------------------------------------------------------


def test_openapi_document_lists_every_route(client):
    r = client.get("/api/v1/openapi.json")
    assert r.status_code == 200
    paths = r.json()["paths"]
    for p in [
        "/api/v1/search",
        "/api/v1/records",
        "/api/v1/records/{record_id}",
        "/api/v1/records/{record_id}/marc",
        "/api/v1/records/{record_id}/items",
        "/api/v1/items/{item_id}",
        "/api/v1/branches",
        "/api/v1/item-types",
        "/api/v1/imports",
    ]:
        assert p in paths
    assert "BearerToken" in r.json()["components"]["securitySchemes"]


# --- search ------------------------------------------------------------------------------


def test_search_returns_summaries_facets_and_total(client, codes):
    rec = services.record_create_from_marc(
        actor=None, marc=make_marc("Harbour of whispers", control="s1")
    )
    services.record_create_from_marc(actor=None, marc=make_marc("Mountain notes", control="s2"))
    ItemFactory(record=rec, branch=codes[0], item_type=codes[1])
    r = client.get("/api/v1/search", {"q": "harbour"})
    assert r.status_code == 200
    body = r.json()
    assert body["total"] == 1
    assert body["results"][0]["id"] == rec.pk
    assert body["results"][0]["items"] == 1 and body["results"][0]["available"] == 1
    assert "format" in body["facets"] and body["page"] == 1


def test_search_facet_filter_sort_and_paging(client):
    for n in range(3):
        services.record_create_from_marc(
            actor=None, marc=make_marc(f"Fjord tale {n}", control=f"f{n}", year=str(2000 + n))
        )
    r = client.get("/api/v1/search", {"q": "fjord", "sort": "-year", "page_size": 2, "page": 2})
    body = r.json()
    assert r.status_code == 200 and body["total"] == 3 and len(body["results"]) == 1
    assert body["results"][0]["year"] == 2000
    r = client.get("/api/v1/search", {"q": "fjord", "language": "eng"})
    assert r.json()["total"] == 0


def test_search_query_count_does_not_grow_with_results(client, django_assert_max_num_queries):
    for n in range(25):
        services.record_create_from_marc(
            actor=None, marc=make_marc(f"Lantern {n}", control=f"l{n}")
        )
    with django_assert_max_num_queries(8):
        r = client.get("/api/v1/search", {"q": "lantern", "page_size": 20})
    assert len(r.json()["results"]) == 20


@pytest.mark.parametrize(
    "q",
    [
        "x" * 10_000,
        '"unbalanced',
        "NEAR(a b) OR -c AND title:*",
        "'; DROP TABLE catalog_bibrecord; --",
        "\x00\x01",
        "***",
        "title:",
    ],
)
def test_search_hostile_queries_never_500_sec_sql_1(client, record, q):
    r = client.get("/api/v1/search", {"q": q})
    assert r.status_code < 500
    if r.status_code != 200:
        assert_error(r, r.status_code)
    assert BibRecord.objects.filter(pk=record.pk).exists()


@pytest.mark.parametrize(
    "params",
    [{"sort": "price"}, {"page": "0"}, {"page": "99999999999999999999"}, {"page_size": "1000"}],
)
def test_search_bad_parameters_are_422(client, params):
    assert_error(client.get("/api/v1/search", params), 422, "invalid_input")


def test_search_rate_limit_answers_429_sec_dos_1(client, settings, rate_window_start):
    settings.QUIETSHELF_SEARCH_RATE_PER_MINUTE = 3
    cache.clear()
    try:
        statuses = [client.get("/api/v1/search", {"q": "anything"}).status_code for _ in range(5)]
        assert statuses == [200, 200, 200, 429, 429]
        assert_error(client.get("/api/v1/search", {"q": "anything"}), 429, "rate_limited")
    finally:
        cache.clear()


# --- records -------------------------------------------------------------------------------


def test_record_get_includes_items_and_availability_per_branch(client, record, codes):
    main, book = codes
    ItemFactory(record=record, branch=main, item_type=book, barcode="B-1")
    ItemFactory(record=record, branch=main, item_type=book, barcode="B-2", status="on_loan")
    r = client.get(f"/api/v1/records/{record.pk}")
    assert r.status_code == 200
    body = r.json()
    assert body["title"] == "Salt and silence"
    assert {i["barcode"] for i in body["items"]} == {"B-1", "B-2"}
    assert "staff_note" not in body["items"][0]
    assert body["availability"] == [
        {"branch": "MAIN", "branch_name": "Main library", "available": 1, "total": 2}
    ]


def test_record_get_unknown_is_404_and_huge_id_is_422(client):
    assert_error(client.get("/api/v1/records/987654"), 404, "record_not_found")
    assert_error(client.get("/api/v1/records/99999999999999999999999999"), 422)
    assert_error(client.get("/api/v1/records/abc"), 422)


def test_record_create_from_iso2709(api):
    data = make_marc("Ice and ink", control="c-iso").as_marc()
    r = api.post("/api/v1/records", data, content_type="application/marc")
    assert r.status_code == 201, r.content
    assert r.json()["title"] == "Ice and ink"
    assert BibRecord.objects.filter(control_number="c-iso").count() == 1


def test_record_create_from_marcxml_body_json_and_format_param(api):
    xml = record_to_xml(make_marc("Northern paper", control="c-xml"), namespace=True)
    r = api.post("/api/v1/records", xml, content_type="application/marcxml+xml")
    assert r.status_code == 201, r.content
    xml2 = record_to_xml(make_marc("Second paper", control="c-json"), namespace=True).decode()
    r = api.post("/api/v1/records", {"marcxml": xml2}, content_type=JSON)
    assert r.status_code == 201 and r.json()["title"] == "Second paper"
    xml3 = record_to_xml(make_marc("Third paper", control="c-fmt"), namespace=True)
    r = api.post("/api/v1/records?format=marcxml", xml3, content_type="text/plain")
    assert r.status_code == 201 and r.json()["title"] == "Third paper"


def test_record_create_creates_items_from_embedded_952(api):
    marc = make_marc("Boxed set", control="c-952", items=[{"barcode": "952-001"}])
    r = api.post("/api/v1/records", marc.as_marc(), content_type="application/marc")
    assert r.status_code == 201
    assert [i["barcode"] for i in r.json()["items"]] == ["952-001"]


@pytest.mark.parametrize(
    ("body", "ctype", "code"),
    [
        (b"Hello, this is a letter, not a catalogue record.", "application/marc", "bad_marc"),
        (b"", "application/marc", "bad_marc"),
        (b"%PDF-1.4 not marc", "application/octet-stream", "bad_marc"),
        (b"00099nam a2200037 a 4500\x1e", "application/marc", "bad_marc"),  # truncated
        (
            b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
            b'<!ENTITY lol2 "&lol;&lol;&lol;&lol;">]><record>&lol2;</record>',
            "application/marcxml+xml",
            "not_marc",
        ),
        (
            b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
            b"<record><datafield tag='245'><subfield code='a'>&xxe;</subfield>"
            b"</datafield></record>",
            "application/marcxml+xml",
            "not_marc",
        ),
        (b"<record><unclosed>", "application/marcxml+xml", "bad_marc"),
    ],
)
def test_record_create_bad_marc_is_400_nothing_stored(api, body, ctype, code):
    r = api.post("/api/v1/records", body, content_type=ctype)
    err = assert_error(r, 400)
    assert err["code"] in {code, "bad_marc", "not_marc", "invalid_marc"}
    assert "root:" not in err["message"]
    assert BibRecord.objects.count() == 0


def test_record_create_two_records_in_one_body_is_400(api):
    data = make_marc("One", control="a").as_marc() + make_marc("Two", control="b").as_marc()
    assert_error(api.post("/api/v1/records", data, content_type="application/marc"), 400)
    assert BibRecord.objects.count() == 0


@pytest.mark.parametrize(
    "body, status",
    [
        # not JSON at all: 400; JSON without a MARCXML string in it: 422
        (b'{"marcxml": ', 400),
        (b"\xff\xfe\xfa not utf-8", 400),
        (b"[1, 2, 3]", 422),
        (b'{"marcxml": 12}', 422),
        (b"{}", 422),
    ],
)
def test_record_create_malformed_json_is_4xx(api, body, status):
    r = api.post("/api/v1/records", body, content_type=JSON)
    assert_error(r, status)


def test_record_writes_need_token_401_and_permission_403(client, plain_api, record):
    data = make_marc("Denied", control="d").as_marc()
    for c, status in ((client, 401), (plain_api, 403)):
        assert_error(c.post("/api/v1/records", data, content_type="application/marc"), status)
        assert_error(
            c.put(f"/api/v1/records/{record.pk}", {"title": "X"}, content_type=JSON), status
        )
        assert_error(c.delete(f"/api/v1/records/{record.pk}"), status)
    assert BibRecord.objects.count() == 1
    assert BibRecord.objects.get().title == "Salt and silence"


def test_record_update_with_marc_and_with_core_fields(api, record):
    marc = make_marc("Salt and silence, revised", control="qs-test-1")
    r = api.put(f"/api/v1/records/{record.pk}", marc.as_marc(), content_type="application/marc")
    assert r.status_code == 200, r.content
    assert r.json()["title"] == "Salt and silence, revised"
    r = api.put(
        f"/api/v1/records/{record.pk}",
        {"title": "A new title", "year": 1999, "edition": "2nd ed."},
        content_type=JSON,
    )
    assert r.status_code == 200, r.content
    body = r.json()
    assert (body["title"], body["year"], body["edition"]) == ("A new title", 1999, "2nd ed.")
    assert body["publisher"] == "Stille forlag"  # untouched


@pytest.mark.parametrize(
    "body",
    [
        {"title": ""},
        {"year": "nineteen"},
        {"year": 10**30},
        {"language": "english"},
        {"title": ["list"]},
        {"title": "x" * 3000},
    ],
)
def test_record_update_core_fields_bad_values_are_422(api, record, body):
    assert_error(api.put(f"/api/v1/records/{record.pk}", body, content_type=JSON), 422)
    assert BibRecord.objects.get().title == "Salt and silence"


def test_record_update_unknown_record_is_404(api):
    assert_error(
        api.put("/api/v1/records/424242", {"title": "x"}, content_type=JSON),
        404,
        "record_not_found",
    )


def test_record_delete_then_gone(api, record):
    r = api.delete(f"/api/v1/records/{record.pk}")
    assert r.status_code == 204
    assert_error(api.get(f"/api/v1/records/{record.pk}"), 404)
    assert_error(api.delete(f"/api/v1/records/{record.pk}"), 404)


def test_record_marc_as_marcxml_and_iso2709(client, record):
    r = client.get(f"/api/v1/records/{record.pk}/marc")
    assert r.status_code == 200 and r["Content-Type"].startswith("application/marcxml+xml")
    parsed = parse_xml_to_array(io.BytesIO(r.content))[0]
    assert parsed["245"]["a"] == "Salt and silence"
    r = client.get(f"/api/v1/records/{record.pk}/marc", {"format": "iso2709"})
    assert r.status_code == 200 and r["Content-Type"] == "application/marc"
    parsed = next(iter(MARCReader(r.content, to_unicode=True)))
    assert parsed["001"].data == "qs-test-1"
    assert_error(client.get(f"/api/v1/records/{record.pk}/marc", {"format": "pdf"}), 422)
    assert_error(client.get("/api/v1/records/777777/marc"), 404)


# --- items ---------------------------------------------------------------------------------


def test_item_list_and_get_with_bounded_queries(
    client, record, codes, django_assert_max_num_queries
):
    for n in range(15):
        ItemFactory(record=record, branch=codes[0], item_type=codes[1], barcode=f"L-{n:03d}")
    with django_assert_max_num_queries(3):
        r = client.get(f"/api/v1/records/{record.pk}/items")
    assert r.status_code == 200 and len(r.json()) == 15
    item_id = r.json()[0]["id"]
    r = client.get(f"/api/v1/items/{item_id}")
    assert r.status_code == 200 and "staff_note" not in r.json()
    assert_error(client.get("/api/v1/records/555555/items"), 404, "record_not_found")
    assert_error(client.get("/api/v1/items/555555"), 404, "item_not_found")


def test_item_create_update_delete(api, record, codes):
    r = api.post(
        f"/api/v1/records/{record.pk}/items",
        {"barcode": "NEW-1", "branch": "MAIN", "item_type": "BOOK", "price_minor": 34900,
         "staff_note": "gift"},
        content_type=JSON,
    )  # fmt: skip
    assert r.status_code == 201, r.content
    item = r.json()
    assert item["barcode"] == "NEW-1" and item["price_minor"] == 34900
    assert item["staff_note"] == "gift"
    r = api.patch(
        f"/api/v1/items/{item['id']}",
        {"status": "damaged", "call_number": "839.82 Fje"},
        content_type=JSON,
    )
    assert r.status_code == 200, r.content
    assert (r.json()["status"], r.json()["call_number"]) == ("damaged", "839.82 Fje")
    assert r.json()["barcode"] == "NEW-1"
    assert api.delete(f"/api/v1/items/{item['id']}").status_code == 204
    assert not Item.objects.exists()


def test_item_duplicate_barcode_is_409_and_nothing_saved(api, record, codes):
    ItemFactory(record=record, branch=codes[0], item_type=codes[1], barcode="DUP-1")
    other = ItemFactory(record=record, branch=codes[0], item_type=codes[1], barcode="DUP-2")
    r = api.post(
        f"/api/v1/records/{record.pk}/items",
        {"barcode": "DUP-1", "branch": "MAIN", "item_type": "BOOK"},
        content_type=JSON,
    )
    assert_error(r, 409, "duplicate_barcode")
    assert Item.objects.count() == 2
    r = api.patch(f"/api/v1/items/{other.pk}", {"barcode": "DUP-1"}, content_type=JSON)
    assert_error(r, 409, "duplicate_barcode")
    assert Item.objects.get(pk=other.pk).barcode == "DUP-2"


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"barcode": "X1", "branch": "NOPE", "item_type": "BOOK"}, 400),
        ({"barcode": "X1", "branch": "MAIN", "item_type": "BOOK", "price_minor": 10**40}, 422),
        ({"barcode": "X1", "branch": "MAIN", "item_type": "BOOK", "price_minor": -1}, 422),
        ({"barcode": "X1", "branch": "MAIN", "item_type": "BOOK", "status": "stolen"}, 422),
        ({"barcode": "has space", "branch": "MAIN", "item_type": "BOOK"}, 422),
        ({"barcode": "", "branch": "MAIN", "item_type": "BOOK"}, 422),
        ({"branch": "MAIN", "item_type": "BOOK"}, 422),
        ({"barcode": 12, "branch": "MAIN", "item_type": "BOOK"}, 422),
    ],
)
def test_item_create_bad_input_is_4xx(api, record, codes, body, status):
    assert_error(api.post(f"/api/v1/records/{record.pk}/items", body, content_type=JSON), status)
    assert not Item.objects.exists()


def test_item_create_on_unknown_record_is_404(api, codes):
    body = {"barcode": "X1", "branch": "MAIN", "item_type": "BOOK"}
    assert_error(api.post("/api/v1/records/31337/items", body, content_type=JSON), 404)


def test_item_update_with_null_barcode_is_refused(api, record, codes):
    item = ItemFactory(record=record, branch=codes[0], item_type=codes[1], barcode="KEEP")
    r = api.patch(f"/api/v1/items/{item.pk}", {"barcode": None}, content_type=JSON)
    assert_error(r, 422)
    assert Item.objects.get().barcode == "KEEP"


def test_item_writes_need_token_401_and_permission_403(client, plain_api, record, codes):
    item = ItemFactory(record=record, branch=codes[0], item_type=codes[1], barcode="SAFE")
    body = {"barcode": "Z1", "branch": "MAIN", "item_type": "BOOK"}
    for c, status in ((client, 401), (plain_api, 403)):
        r = c.post(f"/api/v1/records/{record.pk}/items", body, content_type=JSON)
        assert_error(r, status)
        r = c.patch(f"/api/v1/items/{item.pk}", {"status": "lost"}, content_type=JSON)
        assert_error(r, status)
        assert_error(c.delete(f"/api/v1/items/{item.pk}"), status)
    assert list(Item.objects.values_list("barcode", "status")) == [("SAFE", "available")]


# --- branches and item types -------------------------------------------------------------------


def test_branch_and_item_type_lists_public_with_bounded_queries(
    client, django_assert_max_num_queries
):
    for n in range(12):
        BranchFactory(code=f"B{n}", name=f"Branch {n}")
        ItemTypeFactory(code=f"T{n}", name=f"Type {n}")
    with django_assert_max_num_queries(1):
        r = client.get("/api/v1/branches")
    assert r.status_code == 200 and len(r.json()) == 12
    with django_assert_max_num_queries(1):
        r = client.get("/api/v1/item-types")
    assert r.status_code == 200 and len(r.json()) == 12
    assert set(r.json()[0]) == {"id", "code", "name", "circulates"}


def test_branch_and_item_type_create(api):
    r = api.post("/api/v1/branches", {"code": "NORD", "name": "Nordre"}, content_type=JSON)
    assert r.status_code == 201 and r.json()["code"] == "NORD"
    r = api.post(
        "/api/v1/item-types",
        {"code": "REF", "name": "Reference", "circulates": False},
        content_type=JSON,
    )
    assert r.status_code == 201 and r.json()["circulates"] is False
    r = api.post("/api/v1/branches", {"code": "NORD", "name": "Again"}, content_type=JSON)
    assert_error(r, 409, "duplicate_branch")
    assert Branch.objects.get(code="NORD").name == "Nordre"


@pytest.mark.parametrize(
    "body",
    [
        {"code": "", "name": "x"},
        {"code": "a b", "name": "x"},
        {"code": "X"},
        {"code": 5, "name": []},
    ],
)
def test_branch_create_bad_input_is_422(api, body):
    assert_error(api.post("/api/v1/branches", body, content_type=JSON), 422, "invalid_input")
    assert not Branch.objects.exists()


def test_branch_and_item_type_writes_need_token_401_and_permission_403(client, plain_api):
    for c, status in ((client, 401), (plain_api, 403)):
        r = c.post("/api/v1/branches", {"code": "B", "name": "B"}, content_type=JSON)
        assert_error(r, status)
        r = c.post("/api/v1/item-types", {"code": "T", "name": "T"}, content_type=JSON)
        assert_error(r, status)
    assert not Branch.objects.exists() and not ItemType.objects.exists()


# --- imports ----------------------------------------------------------------------------------


def _upload(data: bytes, name="records.mrc"):
    return SimpleUploadedFile(name, data, content_type="application/octet-stream")


def test_import_upload_returns_summary_with_error_positions(api):
    good = make_marc("Imported one", control="i1").as_marc()
    good2 = make_marc("Imported two", control="i2", items=[{"barcode": "IMP-1"}]).as_marc()
    bad = b"00042xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\x1d"
    r = api.post("/api/v1/imports", {"file": _upload(good + bad + good2)})
    assert r.status_code == 200, r.content
    body = r.json()
    assert (body["created"], body["items"], body["skipped"]) == (2, 1, 1)
    assert body["errors_total"] == 1 and body["errors"][0]["position"] == 2
    assert BibRecord.objects.count() == 2


def test_import_dry_run_stores_nothing(api):
    r = api.post(
        "/api/v1/imports?dry_run=true", {"file": _upload(make_marc("Dry", control="dr").as_marc())}
    )
    assert r.status_code == 200 and r.json()["created"] == 1 and r.json()["dry_run"] is True
    assert not BibRecord.objects.exists()


def test_import_not_marc_is_400_and_too_large_is_413_sec_up_1(api, settings):
    r = api.post("/api/v1/imports", {"file": _upload(b"name,email\nA,b@example.org\n", "x.csv")})
    assert_error(r, 400, "not_marc")
    assert_error(api.post("/api/v1/imports", {"file": _upload(b"", "empty.mrc")}), 400, "not_marc")
    settings.QUIETSHELF_MAX_UPLOAD_BYTES = 100
    r = api.post("/api/v1/imports", {"file": _upload(make_marc("Big").as_marc())})
    assert_error(r, 413, "too_large")
    assert not BibRecord.objects.exists()


def test_import_without_file_is_422(api):
    assert_error(api.post("/api/v1/imports", {}), 422)
    assert_error(api.post("/api/v1/imports", b"raw", content_type="application/marc"), 422)


def test_import_needs_token_401_and_permission_403(client, plain_api):
    for c, status in ((client, 401), (plain_api, 403)):
        r = c.post("/api/v1/imports", {"file": _upload(make_marc("No").as_marc())})
        assert_error(r, status)
    assert not BibRecord.objects.exists()


# --- the error shape everywhere -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "body", "ctype"),
    [
        ("get", "/api/v1/no-such-route", None, None),
        ("get", "/api/v1/", None, None),
        ("delete", "/api/v1/branches", None, None),
        ("post", "/api/v1/branches", b'{"code": "A", "name": ', JSON),
        ("post", "/api/v1/branches", b"\xc3\x28\xa0\xa1", JSON),
        ("post", "/api/v1/branches", b"null", JSON),
        ("post", "/api/v1/branches", b'{"code": "A", "name": "' + b"n" * 300 + b'"}', JSON),
        ("get", "/api/v1/items/-1", None, None),
        ("get", "/api/v1/items/1e9", None, None),
        ("put", "/api/v1/records/1", b"\x00\x01\x02", "application/marc"),
        ("patch", "/api/v1/items/1", b"[]", JSON),
    ],
)
def test_every_error_has_the_error_shape_and_is_never_500(api, method, path, body, ctype):
    kwargs = {"content_type": ctype} if ctype else {}
    r = (
        getattr(api, method)(path, body, **kwargs)
        if body is not None
        else getattr(api, method)(path)
    )
    assert 400 <= r.status_code < 500
    assert_error(r, r.status_code)


def test_request_too_big_for_memory_is_413(api, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    r = api.post("/api/v1/records", b"0" * 5000, content_type="application/marc")
    assert_error(r, 413, "too_large")


def test_api_responses_are_not_cached(client):
    assert client.get("/api/v1/branches")["Cache-Control"] == "no-store"


def test_record_create_from_a_form_upload_is_415_pointing_to_imports(api):
    r = api.post("/api/v1/records", {"file": _upload(make_marc("Form").as_marc())})
    err = assert_error(r, 415, "unsupported_media_type")
    assert "/imports" in err["message"]
    assert not BibRecord.objects.exists()


# --- fuzzing: whatever arrives, the answer is never a 500 ---------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=80),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=12,
)
item_bodies = st.fixed_dictionaries(
    {},
    optional={
        "barcode": json_values,
        "branch": st.sampled_from(["MAIN", "", "NOPE"]) | json_values,
        "item_type": st.sampled_from(["BOOK"]) | json_values,
        "status": st.sampled_from(["available", "lost", "bogus"]) | json_values,
        "price_minor": st.integers() | json_values,
        "location": json_values,
        "call_number": json_values,
    },
)


@hypothesis_settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(body=item_bodies, raw=st.binary(max_size=200))
def test_fuzzed_item_and_record_bodies_never_500_sec_dos_1(api, record, codes, body, raw):
    r = api.post(f"/api/v1/records/{record.pk}/items", body, content_type=JSON)
    assert r.status_code < 500, (body, r.content)
    if r.status_code >= 400:
        assert_error(r, r.status_code)
    r = api.put(f"/api/v1/records/{record.pk}", raw, content_type="application/marc")
    assert r.status_code < 500, (raw, r.content)
    r = api.put(f"/api/v1/records/{record.pk}", raw, content_type=JSON)
    assert r.status_code < 500, (raw, r.content)


@hypothesis_settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    params=st.dictionaries(
        st.sampled_from(
            ["q", "format", "language", "era", "branch", "available", "sort", "page", "page_size"]
        ),
        st.text(max_size=60),
        max_size=5,
    )
)
def test_fuzzed_search_parameters_never_500(client, settings, params):
    settings.QUIETSHELF_SEARCH_RATE_PER_MINUTE = 0
    r = client.get("/api/v1/search", params)
    assert r.status_code in {200, 400, 422}, (params, r.content)


def test_import_oversized_upload_is_stopped_while_streaming_sec_up_1(api, settings):
    settings.QUIETSHELF_MAX_UPLOAD_BYTES = 1000
    r = api.post("/api/v1/imports", {"file": _upload(make_marc("Big").as_marc() * 400)})
    err = assert_error(r, 413, "too_large")
    assert err["message"] == "The upload is larger than the limit of 1,000 bytes."
    assert not BibRecord.objects.exists()


@pytest.mark.parametrize("params", [{"format": "\x00"}, {"q": "a\x00b"}, {"era": "\x1b[31m"}])
def test_search_control_characters_in_parameters_are_not_a_500(client, params):
    """Found by the fuzz test: PostgreSQL refuses NUL in text (SEC-DOS-1)."""
    assert client.get("/api/v1/search", params).status_code == 200


def test_api_docs_page_loads_nothing_from_third_parties_prv_pub_1(client):
    r = client.get("/api/v1/docs")
    assert r.status_code == 200
    urls = re.findall(r'(?:src|href)="([^"]+)"', r.content.decode())
    assert urls and all(u.startswith("/static/") for u in urls), urls
