"""SRU 1.2 and 2.0 at /sru: explain, CQL searchRetrieve, sorting, paging, diagnostics (INT-3)."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest
from django.core.cache import cache
from lxml import etree

from quietshelf.catalog import services
from tests.interop.helpers import create, subject

pytestmark = pytest.mark.django_db

ZS = {"zs": "http://www.loc.gov/zing/srw/", "diag": "http://www.loc.gov/zing/srw/diagnostic/"}
SRU2 = {
    "s": "http://docs.oasis-open.org/ns/search-ws/sruResponse",
    "diag": "http://docs.oasis-open.org/ns/search-ws/diagnostic",
}
MARC = {"m": "http://www.loc.gov/MARC21/slim"}
DC = {"dc": "http://purl.org/dc/elements/1.1/"}


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def catalogue():
    recs = {
        "kind": create(
            "Kind of blue", control="S1", year=1959, extra=[subject("Jazz")], branch="MAIN"
        ),
        "blue": create("Blue train", control="S2", year=1957, extra=[subject("Jazz")]),
        "fjord": create(
            "Fjord fishing",
            control="S3",
            isbn="0306406152",
            year=2001,
            extra=[subject("Fishing")],
        ),
        "nobody": create("Quiet harbour", control="S4", year=1990, extra=()),
    }
    return {k: v.pk for k, v in recs.items()}


@pytest.fixture
def sru(client):
    def call(**params):
        params.setdefault("version", "1.2")
        if params["version"] is None:
            del params["version"]
        response = client.get("/sru?" + urlencode(params))
        assert response.status_code == 200
        assert response["Content-Type"].startswith("text/xml")
        assert not response.cookies
        return etree.fromstring(response.content)

    return call


def search(sru, query, **params):
    return sru(operation="searchRetrieve", query=query, **params)


def ids(tree, ns=ZS, prefix="zs") -> list[int]:
    out = []
    for rec in tree.iterfind(f".//{prefix}:recordData", ns):
        field001 = rec.find(".//m:controlfield[@tag='001']", MARC)
        out.append(field001.text if field001 is not None else None)
    return out


def controls(tree) -> list[str]:
    return ids(tree)


def diag(tree, ns=ZS) -> str | None:
    uri = tree.find(".//diag:uri", ns)
    return None if uri is None else uri.text.rsplit("/", 1)[1]


def total(tree, ns=ZS, prefix="zs") -> int:
    return int(tree.findtext(f"{prefix}:numberOfRecords", namespaces=ns))


def test_explain_in_both_versions_int_3(sru):
    tree = sru(operation="explain")
    assert tree.tag == "{http://www.loc.gov/zing/srw/}explainResponse"
    names = tree.xpath(
        "//e:index/e:map/e:name/text()", namespaces={"e": "http://explain.z3950.org/dtd/2.0/"}
    )
    assert {
        "title",
        "creator",
        "subject",
        "identifier",
        "isbn",
        "issn",
        "date",
        "id",
        "anywhere",
    } <= set(names)
    tree = sru(version=None)
    assert tree.tag == "{http://docs.oasis-open.org/ns/search-ws/sruResponse}explainResponse"


@pytest.mark.parametrize(
    "query, expected",
    [
        ("jazz", ["S1", "S2"]),
        ("cql.anywhere = jazz", ["S1", "S2"]),
        ("cql.serverChoice = fjord", ["S3"]),
        ('dc.title = "kind of blue"', ["S1"]),
        ('dc.title == "kind of blue"', ["S1"]),
        ('dc.title == "blue kind"', []),
        ('dc.title all "blue kind"', ["S1"]),
        ('dc.title any "fjord train"', ["S2", "S3"]),
        ("dc.title = blu*", ["S1", "S2"]),
        ("dc.creator = nordvik", ["S1", "S2", "S3", "S4"]),
        ("dc.subject = fishing", ["S3"]),
        ("dc.identifier = 978-0-306-40615-7", ["S3"]),
        ("bath.isbn = 0306406152", ["S3"]),
        ("dc.date < 1959", ["S2"]),
        ("dc.date <= 1959", ["S1", "S2"]),
        ("dc.date > 1990", ["S3"]),
        ("dc.date >= 1990", ["S3", "S4"]),
        ("dc.date = 1990", ["S4"]),
        ("jazz and dc.date > 1958", ["S1"]),
        ("dc.title = blue and dc.subject = jazz", ["S1", "S2"]),
        ("dc.title = kind and dc.title = blue and jazz", ["S1"]),
        ('dc.title = blu* and dc.title adj "blue train"', ["S2"]),
        ("jazz or fishing", ["S1", "S2", "S3"]),
        ("jazz not dc.title = train", ["S1"]),
        ("(jazz or fishing) and dc.date >= 1959", ["S1", "S3"]),
        ("dc.title = blue and (dc.subject = jazz not dc.date < 1958)", ["S1"]),
        ("DC.TITLE = BLUE AND dc.date=1957", ["S2"]),
    ],
)
def test_cql_indexes_relations_and_booleans_int_3(sru, catalogue, query, expected):
    tree = search(sru, query)
    assert diag(tree) is None, etree.tostring(tree)[:500]
    assert sorted(controls(tree)) == expected
    assert total(tree) == len(expected)


def test_rec_id_finds_one_record_int_3(sru, catalogue):
    tree = search(sru, f"rec.id = {catalogue['fjord']}")
    assert controls(tree) == ["S3"]


def test_sort_keys_on_title_and_date_both_versions_int_3(sru, catalogue):
    q = "dc.creator = nordvik"
    assert controls(search(sru, q, sortKeys="title,,1")) == ["S2", "S3", "S1", "S4"]
    assert controls(search(sru, q, sortKeys="dc.date,,0")) == ["S3", "S4", "S1", "S2"]
    assert controls(search(sru, q, sortKeys="date,,1")) == ["S2", "S1", "S4", "S3"]
    tree = sru(version="2.0", query=f"{q} sortBy dc.date/sort.descending")
    got = [r.findtext(".//m:controlfield[@tag='001']", namespaces=MARC)
           for r in tree.iterfind(".//s:recordData", SRU2)]  # fmt: skip
    assert got == ["S3", "S4", "S1", "S2"]


def test_paging_with_start_record_and_maximum_records_int_3(sru, catalogue):
    q = "dc.creator = nordvik"
    tree = search(sru, q, sortKeys="title", maximumRecords="2")
    assert controls(tree) == ["S2", "S3"]
    assert tree.findtext("zs:nextRecordPosition", namespaces=ZS) == "3"
    assert tree.xpath("//zs:recordPosition/text()", namespaces=ZS) == ["1", "2"]
    tree = search(sru, q, sortKeys="title", maximumRecords="2", startRecord="3")
    assert controls(tree) == ["S1", "S4"]
    assert tree.find("zs:nextRecordPosition", ZS) is None
    tree = search(sru, q, startRecord="9")
    assert diag(tree) == "61"


def test_huge_maximum_records_is_capped_with_a_diagnostic_sec_dos_1(sru, catalogue, settings):
    settings.QUIETSHELF_SRU_MAX_RECORDS = 3
    tree = search(sru, "dc.creator = nordvik", maximumRecords="1000000")
    assert len(controls(tree)) == 3 and total(tree) == 4
    assert diag(tree) == "6"
    assert tree.findtext(".//diag:details", namespaces=ZS) == "maximumRecords"


def test_dc_schema_and_string_packing_int_3(sru, catalogue):
    tree = search(sru, "fjord", recordSchema="dc")
    assert tree.findtext(".//dc:title", namespaces=DC) == "Fjord fishing"
    assert tree.findtext(".//zs:recordSchema", namespaces=ZS) == "info:srw/schema/1/dc-v1.1"
    tree = search(
        sru, "fjord", recordSchema="info:srw/schema/1/marcxml-v1.1", recordPacking="string"
    )
    data = tree.findtext(".//zs:recordData", namespaces=ZS)
    assert data.startswith("<record") and "Fjord fishing" in data


def test_sru_2_search_retrieve_int_3(sru, catalogue):
    tree = sru(version="2.0", query="jazz", recordXMLEscaping="xml")
    assert tree.tag == "{http://docs.oasis-open.org/ns/search-ws/sruResponse}searchRetrieveResponse"
    assert total(tree, SRU2, "s") == 2
    tree = sru(version="2.0", query="nosuch.index = x")
    assert diag(tree, SRU2) == "16"


def test_only_public_data_leaves_prv_pub_1(sru, catalogue):
    tree = search(sru, "dc.title = kind")
    record = tree.find(".//m:record", MARC)
    assert record.find("m:datafield[@tag='952']", MARC) is None
    assert "BC-S1" not in etree.tostring(record).decode()


@pytest.mark.parametrize(
    "params, number",
    [
        ({"query": "nosuch.index = x"}, "16"),
        ({"query": "dc.title < x"}, "19"),
        ({"query": "dc.title within x"}, "19"),
        ({"query": "dc.date = soon"}, "36"),
        ({"query": "rec.id = abc"}, "36"),
        ({"query": "dc.title =/fuzzy x"}, "20"),
        ({"query": "jazz prox blues"}, "39"),
        ({"query": "(jazz or blues"}, "13"),
        ({"query": "jazz)"}, "13"),
        ({"query": "dc.title jazz"}, "10"),
        ({"query": "dc.title ="}, "10"),
        ({"query": 'dc.title = ""'}, "27"),
        ({"query": "dc.title = j?zz"}, "28"),
        ({"query": "x " * 5000}, "12"),
        ({"query": " or ".join(f"w{i}" for i in range(13))}, "38"),
        ({"query": "jazz", "recordSchema": "mods"}, "66"),
        ({"query": "jazz", "recordPacking": "packed"}, "71"),
        ({"query": "jazz", "sortKeys": "author"}, "88"),
        ({"query": "jazz sortBy dc.creator"}, "88"),
        ({"query": "jazz", "maximumRecords": "lots"}, "6"),
        ({"query": "jazz", "startRecord": "0"}, "6"),
        ({"query": "jazz", "recordXPath": "/record"}, "72"),
        ({"query": "jazz", "stylesheet": "x.xsl"}, "110"),
        ({"query": "jazz", "frobnicate": "1"}, "8"),
        ({}, "7"),
    ],
)
def test_standard_diagnostics_for_bad_queries_int_3_sec_dos_1(sru, catalogue, params, number):
    tree = sru(operation="searchRetrieve", **params)
    assert diag(tree) == number, etree.tostring(tree)[:600]
    assert total(tree) == 0 and tree.find(".//zs:record", ZS) is None


def test_unsupported_operation_and_version_int_3(sru):
    assert diag(sru(operation="scan", scanClause="jazz")) in ("4", "8")
    assert diag(sru(operation="scan")) == "4"
    assert diag(sru(operation="explain", version="3.0")) == "5"


def test_cql_never_reaches_sql_as_text_sec_sql_1(sru, catalogue):
    for query in [
        'dc.title = "x\') OR 1=1 --"',
        'dc.title = "\'; DROP TABLE catalog_bibrecord; --"',
    ]:
        tree = search(sru, query)
        assert total(tree) == 0
    assert total(search(sru, "dc.creator = nordvik")) == 4


def test_rate_limit_answers_429_with_retry_after_sec_dos_1(client, settings, rate_window_start):
    settings.QUIETSHELF_SEARCH_RATE_PER_MINUTE = 1
    assert client.get("/sru?version=1.2&operation=explain").status_code == 200
    response = client.get("/sru?version=1.2&operation=searchRetrieve&query=jazz")
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0


def test_deleted_record_is_no_longer_found_int_3(sru, catalogue):
    services.record_delete(record_id=catalogue["fjord"])
    assert total(search(sru, "fjord")) == 0


def test_post_is_answered_like_get_int_3(client, catalogue):
    response = client.post(
        "/sru", {"version": "1.2", "operation": "searchRetrieve", "query": "dc.subject = fishing"}
    )
    tree = etree.fromstring(response.content)
    assert response.status_code == 200 and controls(tree) == ["S3"]


def test_a_search_costs_the_same_queries_whatever_the_page_int_3(
    client, catalogue, django_assert_max_num_queries
):
    # count, page, records; on PostgreSQL also the time limit's savepoint,
    # two set_config and the release (SEC-DOS-1)
    for size in ("1", "4"):
        cache.clear()
        with django_assert_max_num_queries(7):
            response = client.get(
                "/sru?version=1.2&operation=searchRetrieve&query=dc.creator%3Dnordvik"
                f"&maximumRecords={size}"
            )
        assert response.content.count(b"<zs:record>") == int(size)
