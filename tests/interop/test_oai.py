"""OAI-PMH 2.0 at /oai: every verb, every error, every response schema-valid (INT-3)."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import pytest
import time_machine
from django.core.cache import cache
from pymarc import Field, Indicators, Subfield

from quietshelf.catalog import services
from quietshelf.catalog.models import BibRecord
from quietshelf.interop.models import DeletedRecord
from tests.interop.helpers import DC_NS, MARC_NS, OAI_NS, create, subject

pytestmark = pytest.mark.django_db

REPO = "quietshelf.local"


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def oai(client, validate_oai):
    """GET /oai with these arguments; validates the response and returns its tree."""

    def call(*pairs, method="get"):
        if method == "post":
            response = client.post("/oai", dict(pairs))
        else:
            from urllib.parse import urlencode

            response = client.get("/oai?" + urlencode(pairs))
        assert response.status_code == 200, response.content[:500]
        assert response["Content-Type"].startswith("text/xml")
        assert not response.cookies, "the OAI-PMH provider sets no cookie (PRV-PUB-1)"
        return validate_oai(response.content)

    return call


def error_code(tree) -> str | None:
    err = tree.find("o:error", OAI_NS)
    return None if err is None else err.get("code")


def identifiers(tree) -> list[str]:
    return [e.text for e in tree.iterfind(".//o:header/o:identifier", OAI_NS)]


def token_of(tree):
    return tree.find(".//o:resumptionToken", OAI_NS)


def test_identify_is_valid_and_declares_persistent_deletions_int_3(oai):
    rec = create("Identified", control="ID1")
    tree = oai(("verb", "Identify"))
    ident = tree.find("o:Identify", OAI_NS)
    assert ident.findtext("o:protocolVersion", namespaces=OAI_NS) == "2.0"
    assert ident.findtext("o:deletedRecord", namespaces=OAI_NS) == "persistent"
    assert ident.findtext("o:granularity", namespaces=OAI_NS) == "YYYY-MM-DDThh:mm:ssZ"
    assert ident.findtext("o:baseURL", namespaces=OAI_NS) == "http://testserver/oai"
    earliest = ident.findtext("o:earliestDatestamp", namespaces=OAI_NS)
    assert earliest == rec.updated_at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_list_metadata_formats_for_repository_and_record_int_3(oai):
    rec = create("Formats", control="MF1")
    for args in ((), (("identifier", f"oai:{REPO}:{rec.pk}"),)):
        tree = oai(("verb", "ListMetadataFormats"), *args)
        prefixes = [e.text for e in tree.iterfind(".//o:metadataPrefix", OAI_NS)]
        assert prefixes == ["oai_dc", "marc21"]
    tree = oai(("verb", "ListMetadataFormats"), ("identifier", f"oai:{REPO}:999999"))
    assert error_code(tree) == "idDoesNotExist"
    tree = oai(("verb", "ListMetadataFormats"), ("identifier", "oai:elsewhere.org:1"))
    assert error_code(tree) == "idDoesNotExist"


def test_list_records_marc21_is_the_public_record_only_int_3_prv_pub_1(oai):
    rec = create(
        "Harvested in MARC",
        control="MR1",
        branch="MAIN",
        extra=[
            Field(tag="541", indicators=Indicators("0", " "), subfields=[Subfield("a", "Donor")]),
            Field(tag="590", indicators=Indicators(" ", " "), subfields=[Subfield("a", "local")]),
            Field(
                tag="852",
                indicators=Indicators(" ", " "),
                subfields=[Subfield("b", "MAIN"), Subfield("x", "staff only")],
            ),
        ],
    )
    tree = oai(("verb", "ListRecords"), ("metadataPrefix", "marc21"))
    assert identifiers(tree) == [f"oai:{REPO}:{rec.pk}"]
    marc = tree.find(".//m:record", MARC_NS)
    tags = [f.get("tag") for f in marc.iterfind("m:datafield", MARC_NS)]
    assert "245" in tags and "852" in tags
    assert not {"952", "541", "590"} & set(tags), "copies, prices and donors stay home"
    codes = [s.get("code") for s in marc.iterfind("m:datafield[@tag='852']/m:subfield", MARC_NS)]
    assert codes == ["b"]
    body = marc.xpath("string(.)")
    assert "199.00" not in body and "BC-MR1" not in body
    specs = [e.text for e in tree.iterfind(".//o:header/o:setSpec", OAI_NS)]
    assert specs == ["format:book", "branch:MAIN"]


def test_list_records_oai_dc_and_get_record_int_3(oai):
    rec = create("Dublin core", control="DC1", isbn="0306406152", extra=[subject("Jazz")])
    tree = oai(("verb", "ListRecords"), ("metadataPrefix", "oai_dc"))
    assert tree.findtext(".//dc:title", namespaces=DC_NS) == "Dublin core"
    assert tree.findtext(".//dc:subject", namespaces=DC_NS) == "Jazz"
    assert "urn:isbn:9780306406157" in [e.text for e in tree.iterfind(".//dc:identifier", DC_NS)]
    assert tree.findtext(".//dc:creator", namespaces=DC_NS) == "Nordvik, Tove"
    for prefix in ("oai_dc", "marc21"):
        tree = oai(
            ("verb", "GetRecord"),
            ("identifier", f"oai:{REPO}:{rec.pk}"),
            ("metadataPrefix", prefix),
        )
        assert identifiers(tree) == [f"oai:{REPO}:{rec.pk}"]
        assert tree.find(".//o:metadata", OAI_NS) is not None
    tree = oai(("verb", "ListIdentifiers"), ("metadataPrefix", "marc21"))
    assert identifiers(tree) == [f"oai:{REPO}:{rec.pk}"]
    assert tree.find(".//o:metadata", OAI_NS) is None


def test_post_is_answered_like_get_int_3(oai):
    rec = create("Posted", control="PO1")
    tree = oai(("verb", "ListIdentifiers"), ("metadataPrefix", "oai_dc"), method="post")
    assert identifiers(tree) == [f"oai:{REPO}:{rec.pk}"]


def test_deleted_record_stays_as_a_tombstone_with_its_deletion_time_int_3(oai):
    keep = create("Kept", control="DL1", branch="MAIN")
    gone = create("Deleted", control="DL2", branch="WEST")
    when = dt.datetime(2031, 5, 4, 3, 2, 1, tzinfo=dt.UTC)
    with time_machine.travel(when, tick=False):
        services.record_delete(record_id=gone.pk)
    assert not BibRecord.objects.filter(pk=gone.pk).exists()
    tomb = DeletedRecord.objects.get(record_id=gone.pk)
    assert tomb.deleted_at == when and tomb.branches == " WEST "
    tree = oai(("verb", "ListRecords"), ("metadataPrefix", "marc21"))
    headers = tree.findall(".//o:header", OAI_NS)
    assert [h.get("status") for h in headers] == [None, "deleted"]
    assert headers[1].findtext("o:datestamp", namespaces=OAI_NS) == "2031-05-04T03:02:01Z"
    assert tree.findall(".//o:record", OAI_NS)[1].find("o:metadata", OAI_NS) is None
    tree = oai(
        ("verb", "GetRecord"), ("identifier", f"oai:{REPO}:{gone.pk}"), ("metadataPrefix", "oai_dc")
    )
    assert tree.find(".//o:header", OAI_NS).get("status") == "deleted"
    # in its set still, and found by its deletion date
    tree = oai(("verb", "ListIdentifiers"), ("metadataPrefix", "oai_dc"), ("set", "branch:WEST"))
    assert identifiers(tree) == [f"oai:{REPO}:{gone.pk}"]
    tree = oai(("verb", "ListIdentifiers"), ("metadataPrefix", "oai_dc"), ("from", "2031-05-04"))
    assert identifiers(tree) == [f"oai:{REPO}:{gone.pk}"]
    assert keep.pk != gone.pk


def test_sets_by_format_branch_and_configuration_int_3(oai, settings):
    settings.QUIETSHELF_OAI_SETS = [
        {
            "spec": "norwegian-main",
            "name": "Norwegian at Main",
            "language": ["nob"],
            "branch": ["MAIN"],
        }
    ]
    main = create("At main", control="S1", branch="MAIN")
    west = create("At west", control="S2", branch="WEST")
    bare = create("No copies", control="S3")
    tree = oai(("verb", "ListSets"))
    specs = [e.text for e in tree.iterfind(".//o:setSpec", OAI_NS)]
    assert specs == [
        "format", "format:book", "branch", "branch:MAIN", "branch:WEST", "norwegian-main"
    ]  # fmt: skip

    def ids(spec):
        tree = oai(("verb", "ListIdentifiers"), ("metadataPrefix", "oai_dc"), ("set", spec))
        return identifiers(tree) if error_code(tree) is None else error_code(tree)

    uri = f"oai:{REPO}:"
    assert ids("branch:MAIN") == [f"{uri}{main.pk}"]
    assert ids("branch") == [f"{uri}{main.pk}", f"{uri}{west.pk}"]
    assert ids("format:book") == [f"{uri}{r.pk}" for r in (main, west, bare)]
    assert ids("norwegian-main") == [f"{uri}{main.pk}"]
    assert ids("format:map") == "noRecordsMatch"
    assert ids("no-such-set") == "noRecordsMatch"


def test_no_set_hierarchy_in_an_empty_repository_int_3(oai):
    assert error_code(oai(("verb", "ListSets"))) == "noSetHierarchy"
    tree = oai(("verb", "ListRecords"), ("metadataPrefix", "oai_dc"), ("set", "format:book"))
    assert error_code(tree) == "noSetHierarchy"


def test_from_and_until_in_both_granularities_int_3(oai):
    with time_machine.travel(dt.datetime(2030, 1, 10, 12, 0, 0, tzinfo=dt.UTC), tick=False):
        old = create("Old", control="T1")
    with time_machine.travel(dt.datetime(2030, 1, 20, 8, 30, 15, tzinfo=dt.UTC), tick=False):
        new = create("New", control="T2")
    uri = f"oai:{REPO}:"

    def ids(*args):
        tree = oai(("verb", "ListIdentifiers"), ("metadataPrefix", "oai_dc"), *args)
        return identifiers(tree) if error_code(tree) is None else error_code(tree)

    assert ids(("from", "2030-01-11")) == [f"{uri}{new.pk}"]
    assert ids(("until", "2030-01-10")) == [f"{uri}{old.pk}"]
    assert ids(("from", "2030-01-20T08:30:15Z")) == [f"{uri}{new.pk}"]
    assert ids(("until", "2030-01-20T08:30:15Z")) == [f"{uri}{old.pk}", f"{uri}{new.pk}"]
    assert ids(("until", "2030-01-20T08:30:14Z")) == [f"{uri}{old.pk}"]
    assert ids(("from", "2030-01-10"), ("until", "2030-01-20")) == [
        f"{uri}{old.pk}",
        f"{uri}{new.pk}",
    ]
    assert ids(("from", "2030-02-01")) == "noRecordsMatch"
    assert ids(("until", "9999-12-31")) == [f"{uri}{old.pk}", f"{uri}{new.pk}"]
    assert ids(("from", "0001-01-01T00:00:00Z")) == [f"{uri}{old.pk}", f"{uri}{new.pk}"]


@pytest.mark.parametrize(
    "args, code",
    [
        ((), "badVerb"),
        ((("verb", "Dance"),), "badVerb"),
        ((("verb", "Identify"), ("verb", "Identify")), "badVerb"),
        ((("verb", "Identify"), ("extra", "1")), "badArgument"),
        ((("verb", "ListRecords"),), "badArgument"),
        ((("verb", "GetRecord"), ("metadataPrefix", "oai_dc")), "badArgument"),
        (
            (("verb", "ListRecords"), ("metadataPrefix", "oai_dc"), ("metadataPrefix", "marc21")),
            "badArgument",
        ),
        (
            (("verb", "ListRecords"), ("metadataPrefix", "oai_dc"), ("from", "2030-02-01"),
             ("until", "2030-01-01")),
            "badArgument",
        ),
        (
            (("verb", "ListRecords"), ("metadataPrefix", "oai_dc"), ("from", "2030-01-01"),
             ("until", "2030-02-01T00:00:00Z")),
            "badArgument",
        ),
        ((("verb", "ListRecords"), ("metadataPrefix", "oai_dc"), ("from", "2030-01")),
         "badArgument"),
        (
            (("verb", "ListRecords"), ("metadataPrefix", "oai_dc"), ("from", "2030-01-01T10:00Z")),
            "badArgument",
        ),
        ((("verb", "ListRecords"), ("metadataPrefix", "oai_dc"), ("from", "2030-13-45")),
         "badArgument"),
        (
            (("verb", "ListRecords"), ("metadataPrefix", "oai_dc"), ("resumptionToken", "x")),
            "badArgument",
        ),
        ((("verb", "ListRecords"), ("resumptionToken", "forged")), "badResumptionToken"),
        ((("verb", "ListSets"), ("resumptionToken", "forged")), "badResumptionToken"),
        ((("verb", "ListRecords"), ("metadataPrefix", "mods")), "cannotDisseminateFormat"),
        (
            (("verb", "GetRecord"), ("identifier", "oai:quietshelf.local:424242"),
             ("metadataPrefix", "oai_dc")),
            "idDoesNotExist",
        ),
        ((("verb", "ListIdentifiers"), ("metadataPrefix", "oai_dc")), "noRecordsMatch"),
        ((("verb", "ListSets"),), "noSetHierarchy"),
        ((("verb", "Identify"), ("identifier", "x" * 5000)), "badArgument"),
    ],
)  # fmt: skip
def test_every_error_code_of_the_protocol_int_3(oai, args, code):
    tree = oai(*args)
    assert error_code(tree) == code
    request = tree.find("o:request", OAI_NS)
    if code in ("badVerb", "badArgument"):
        assert dict(request.attrib) == {}, "no arguments echoed after badVerb/badArgument"


def harvest(oai, *first):
    """Every (identifier, deleted) of a harvest, following resumption tokens."""
    seen, cursors = [], []
    tree = oai(*first)
    verb = first[0][1]
    while True:
        seen += [
            (h.findtext("o:identifier", namespaces=OAI_NS), h.get("status") == "deleted")
            for h in tree.iterfind(".//o:header", OAI_NS)
        ]
        token = token_of(tree)
        if token is not None:
            cursors.append(int(token.get("cursor")))
        if token is None or not token.text:
            return seen, cursors
        tree = oai(("verb", verb), ("resumptionToken", token.text))


def test_resumption_is_a_cursor_that_stays_valid_while_records_change_int_3(oai, settings):
    settings.QUIETSHELF_OAI_PAGE_SIZE = 3
    recs = [create(f"Record {i}", control=f"RC{i}") for i in range(10)]
    tree = oai(("verb", "ListIdentifiers"), ("metadataPrefix", "oai_dc"))
    token = token_of(tree)
    assert token.get("completeListSize") == "10" and token.get("cursor") == "0"
    assert token.get("expirationDate")
    first = identifiers(tree)
    # Meanwhile: a record not yet harvested is deleted, one already sent is
    # edited, one before the cursor is deleted, and a new one arrives.
    services.record_delete(record_id=recs[6].pk)
    services.record_update_core_fields(record_id=recs[1].pk, title="Edited")
    services.record_delete(record_id=recs[0].pk)
    newcomer = create("Newcomer", control="RC99")
    rest, cursors = harvest(oai, ("verb", "ListIdentifiers"), ("resumptionToken", token.text))
    assert cursors == [3, 6, 9]
    got = first + [i for i, _ in rest]
    uri = f"oai:{REPO}:"
    assert got == [f"{uri}{r.pk}" for r in recs] + [f"{uri}{newcomer.pk}"]
    assert len(set(got)) == len(got), "nothing twice, nothing skipped"
    assert (f"{uri}{recs[6].pk}", True) in rest


def test_resumption_token_is_accepted_by_a_fresh_process_int_3(oai, settings):
    """Restart-proof: the token is verified from SECRET_KEY alone, in a new interpreter."""
    settings.QUIETSHELF_OAI_PAGE_SIZE = 1
    create("One", control="FP1")
    create("Two", control="FP2")
    token = token_of(oai(("verb", "ListRecords"), ("metadataPrefix", "marc21"))).text
    code = (
        "import django; django.setup();"
        "from quietshelf.interop.oai.protocol import decode_token;"
        f"h = decode_token({token!r}, verb='ListRecords', max_age_days=7);"
        "print(h.prefix, h.cursor, h.total)"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "quietshelf.config.settings"}
    env["QUIETSHELF_SECRET_KEY"] = settings.SECRET_KEY
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True,
        cwd=Path(__file__).resolve().parents[2],
    )  # fmt: skip
    assert out.stdout.split() == ["marc21", "1", "2"]


def test_expired_edited_and_cross_verb_tokens_are_refused_int_3(oai, settings):
    settings.QUIETSHELF_OAI_PAGE_SIZE = 1
    create("One", control="EX1")
    create("Two", control="EX2")
    token = token_of(oai(("verb", "ListRecords"), ("metadataPrefix", "oai_dc"))).text
    tree = oai(("verb", "ListIdentifiers"), ("resumptionToken", token))
    assert error_code(tree) == "badResumptionToken"
    tampered = token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB")
    assert error_code(oai(("verb", "ListRecords"), ("resumptionToken", tampered))) == (
        "badResumptionToken"
    )
    with time_machine.travel(dt.datetime.now(dt.UTC) + dt.timedelta(days=8)):
        tree = oai(("verb", "ListRecords"), ("resumptionToken", token))
    assert error_code(tree) == "badResumptionToken"
    assert "expired" in tree.findtext("o:error", namespaces=OAI_NS)


def test_hostile_marc_is_escaped_and_stays_valid_xml_sec_xss_1(oai):
    rec = create('<script>alert("x")</script> & \x07bell', control="XSS1")
    tree = oai(
        ("verb", "GetRecord"), ("identifier", f"oai:{REPO}:{rec.pk}"), ("metadataPrefix", "oai_dc")
    )
    assert tree.findtext(".//dc:title", namespaces=DC_NS).startswith('<script>alert("x")')
    assert tree.find(".//script") is None


def test_rate_limit_answers_429_with_retry_after_sec_dos_1(client, settings, rate_window_start):
    settings.QUIETSHELF_SEARCH_RATE_PER_MINUTE = 2
    for _ in range(2):
        assert client.get("/oai?verb=Identify").status_code == 200
    response = client.get("/oai?verb=Identify")
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0


def test_a_page_costs_the_same_queries_whatever_its_size_int_3_perf_oai_1(
    client, django_assert_max_num_queries, settings
):
    """Counts, one range read each of records and tombstones, one for the copies' branches."""
    for i in range(12):
        create(f"Counted {i}", control=f"QC{i}", branch="MAIN" if i % 2 else "WEST")
    for size in (3, 12):
        settings.QUIETSHELF_OAI_PAGE_SIZE = size
        cache.clear()
        with django_assert_max_num_queries(6):
            response = client.get("/oai?verb=ListRecords&metadataPrefix=marc21")
        assert response.content.count(b"<record>") == size
