"""The direct MARC-in-JSON → MARCXML writer says exactly what the pymarc path says
(PERF-OAI-1, CAT-1, INT-1): every record a harvest or SRU answer writes goes through it.
"""

from __future__ import annotations

import pytest

from quietshelf.catalog.marc import (
    json_to_marcxml,
    read_marc,
    record_from_json,
    record_to_json,
    record_to_marcxml,
)
from quietshelf.catalog.sample import sample_records
from tests.catalog.test_marc_tolerance import _broken_records


def _long_way(data: dict, namespace: bool) -> str:
    return record_to_marcxml(record_from_json(data), namespace=namespace)


@pytest.mark.parametrize("namespace", [True, False])
def test_same_text_for_the_sample_and_broken_records_perf_oai_1(namespace):
    records = [record_to_json(r) for r in sample_records() + _broken_records()]
    assert len(records) > 10
    for data in records:
        assert json_to_marcxml(data, namespace=namespace) == _long_way(data, namespace)


LEADER = "00000nam a2200000 i 4500"


def _rec(*fields, leader: str = LEADER) -> dict:
    return {"leader": leader, "fields": list(fields)}


def _df(tag: str, *subfields, **indicators) -> dict:
    return {tag: {**indicators, "subfields": list(subfields)}}


ODD = [
    # a control tag holding subfields, a data tag holding text
    _rec(_df("001", {"a": "x"})),
    _rec({"245": "text only"}),
    # a two-character indicator, a number for an indicator, a missing subfield text
    _rec(_df("245", {"a": "t"}, ind1="10")),
    _rec(_df("245", {"a": "t"}, ind1=1)),
    _rec(_df("245", {"a": None}, {"b": "x"})),
    # an empty leader, a short one, control characters in text, markup in text
    _rec({"001": "x"}, leader=""),
    _rec({"001": "x"}, leader="nam"),
    _rec({"008": "a\x01b"}, _df("500", {"a": "a\x0bb"})),
    _rec(_df("245", {"a": "<b>&\"'"})),
    # data fields before control fields, a field with no subfields, a lower-case tag
    _rec(_df("245", {"a": "t"}), {"001": "1"}),
    _rec(_df("650"), _df("abc", {"a": "t"})),
]


@pytest.mark.parametrize("data", ODD)
def test_same_text_for_odd_shapes_perf_oai_1(data):
    assert json_to_marcxml(data, namespace=True) == _long_way(data, True)


@pytest.mark.parametrize("data", [[], {"fields": "x"}, {"leader": "x", "fields": [["245"]]}])
def test_malformed_json_raises_as_the_long_way_does_perf_oai_1(data):
    with pytest.raises(ValueError):
        _long_way(data, True)
    with pytest.raises(ValueError):
        json_to_marcxml(data, namespace=True)


def test_same_text_for_real_files_perf_oai_1(marc_dir):
    """Every record of the shared real MARC files (other libraries' data)."""
    seen = 0
    for path in sorted(marc_dir.glob("*.mrc")):
        with path.open("rb") as stream:
            for result in read_marc(stream):
                if result.record is None:
                    continue
                data = record_to_json(result.record)
                assert json_to_marcxml(data, namespace=True) == _long_way(data, True), path.name
                seen += 1
    assert seen > 1000
