"""Helpers for the search tests: records made directly, then indexed."""

from __future__ import annotations

from quietshelf.catalog.search import index_records
from tests.factories import BibRecordFactory, BranchFactory, ItemFactory


def make_record(index: bool = True, **fields):
    marc_fields = fields.pop("marc_fields", None)
    record = BibRecordFactory(**fields)
    if marc_fields is not None:
        record.marc_json = {"leader": record.leader, "fields": marc_fields}
        record.save(update_fields=["marc_json"])
    if index:
        index_records([record.pk])
    return record


def add_item(record, branch_code: str = "MAIN", status: str = "available", **fields):
    branch = BranchFactory(code=branch_code, name=f"{branch_code.title()} library")
    item = ItemFactory(record=record, branch=branch, status=status, **fields)
    index_records([record.pk])
    return item
