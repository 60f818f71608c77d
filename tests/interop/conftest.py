"""Fixtures for the OAI-PMH and SRU tests: offline schema validation, records."""

from __future__ import annotations

import pytest
from lxml import etree

from tests.conftest import SHARED_DATA, shared_data_missing

XSD_DIR = SHARED_DATA / "xsd"
# oai-all.xsd plus the oai-identifier schema (Identify's description), loaded
# from ../shared/data/xsd only: no network.
_DRIVER = """<?xml version="1.0" encoding="UTF-8"?>
<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema">
  <xs:import namespace="http://www.openarchives.org/OAI/2.0/" schemaLocation="OAI-PMH.xsd"/>
  <xs:import namespace="http://www.loc.gov/MARC21/slim" schemaLocation="MARC21slim.xsd"/>
  <xs:import namespace="http://www.openarchives.org/OAI/2.0/oai_dc/" schemaLocation="oai_dc.xsd"/>
  <xs:import namespace="http://www.openarchives.org/OAI/2.0/oai-identifier"
             schemaLocation="oai-identifier.xsd"/>
</xs:schema>
"""


class NoNetwork(etree.Resolver):
    def resolve(self, url, pubid, context):
        if url.startswith(("http:", "https:", "ftp:")):
            raise AssertionError(f"schema validation tried the network: {url}")
        return None


@pytest.fixture(scope="session")
def oai_schema():
    if not XSD_DIR.is_dir():
        shared_data_missing("xsd")
    parser = etree.XMLParser(no_network=True, resolve_entities=False)
    parser.resolvers.add(NoNetwork())
    doc = etree.fromstring(_DRIVER.encode(), parser, base_url=str(XSD_DIR / "driver.xsd"))
    return etree.XMLSchema(doc)


@pytest.fixture
def validate_oai(oai_schema):
    """Parse a response body, validate it against OAI-PMH 2.0 (payloads too), return the tree."""

    def check(body: bytes):
        parser = etree.XMLParser(no_network=True, resolve_entities=False)
        tree = etree.fromstring(body, parser)
        if not oai_schema.validate(tree):
            errors = "\n".join(str(e) for e in list(oai_schema.error_log)[:5])
            raise AssertionError(f"response is not valid OAI-PMH 2.0:\n{errors}\n{body[:2000]!r}")
        return tree

    return check
