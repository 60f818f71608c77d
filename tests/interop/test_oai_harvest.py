"""A real harvester (sickle, from PyPI) takes the whole catalogue over HTTP (INT-3, CAT-1)."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest
from django.core.cache import cache
from lxml import etree
from sickle import Sickle

from quietshelf.catalog import services
from quietshelf.catalog.models import BibRecord
from tests.interop.helpers import MARC_NS, OAI_NS

REPO = "quietshelf.local"


@pytest.fixture
def real_catalogue(marc_dir):
    """1,500 real records (Evergreen's jazz and French test sets) through the importer."""
    summary = services.import_marc(
        sources=[marc_dir / "jazz_1k.mrc", marc_dir / "lul_fre_500.mrc"], match_on=[]
    )
    assert summary.created >= 1_000
    cache.clear()
    return set(BibRecord.objects.values_list("pk", flat=True))


def test_sickle_harvests_every_record_with_resumption_int_3(
    live_server, transactional_db, real_catalogue
):
    client = Sickle(f"{live_server.url}/oai", max_retries=3, retry_status_codes=[429, 503])
    seen = []
    for record in client.ListRecords(metadataPrefix="marc21", ignore_deleted=False):
        assert not record.deleted
        seen.append(int(record.header.identifier.rsplit(":", 1)[1]))
        marc = etree.fromstring(record.raw.encode()).find(".//m:record", MARC_NS)
        assert marc.find("m:datafield[@tag='245']", MARC_NS) is not None
    assert len(seen) == len(real_catalogue) >= 1_000
    assert set(seen) == real_catalogue, "exactly the records in the catalogue, each once"

    posted = Sickle(f"{live_server.url}/oai", http_method="POST", max_retries=3,
                    retry_status_codes=[429, 503])  # fmt: skip
    headers = list(posted.ListIdentifiers(metadataPrefix="oai_dc"))
    assert {int(h.identifier.rsplit(":", 1)[1]) for h in headers} == real_catalogue


@pytest.mark.django_db
def test_every_page_of_real_records_is_schema_valid_int_3(client, validate_oai, real_catalogue):
    for prefix in ("marc21", "oai_dc"):
        args = {"verb": "ListRecords", "metadataPrefix": prefix}
        count = 0
        while True:
            cache.clear()  # this test is about the XML, not the rate limit
            tree = validate_oai(client.get("/oai?" + urlencode(args)).content)
            count += len(tree.findall(".//o:record", OAI_NS))
            token = tree.find(".//o:resumptionToken", OAI_NS)
            if token is None or not token.text:
                break
            args = {"verb": "ListRecords", "resumptionToken": token.text}
        assert count == len(real_catalogue)
