"""Catalogue state changes: records from MARC, core-field edits, items, branches, import.

Every function is keyword-only and typed, runs in one transaction and keeps
the search index in step inside that same transaction (index_records /
remove_records). The importer commits in batches of BATCH_SIZE records: a
batch is one transaction, and when a batch fails in the database it is run
again one record per transaction, so a bad record never leaves half a
record behind and never takes the others down with it.

One module per use case (#14); the names below are the package's public
face, so callers import ``quietshelf.catalog.services`` as before:

- ``records``: record_create_from_marc, record_update_from_marc,
  record_update_core_fields, record_delete
- ``items``: item_create, item_update, item_delete
- ``code_tables``: branch_create, item_type_create, location_create
- ``imports``: import_marc, load_holdings_map, ImportSummary, ImportProblem
- ``marc_input``: parse_marc_input (one record from any MARC form)
- ``writer``: the batch writer the importer and the record services share
"""

from quietshelf.catalog.marc.reader import decode_iso2709
from quietshelf.catalog.services.code_tables import (
    branch_create,
    item_type_create,
    location_create,
)
from quietshelf.catalog.services.imports import (
    BATCH_SIZE,
    MATCH_SCHEMES,
    ImportProblem,
    ImportSummary,
    Source,
    import_marc,
    load_holdings_map,
)
from quietshelf.catalog.services.items import item_create, item_delete, item_update
from quietshelf.catalog.services.marc_input import UNIMARC_REASON, parse_marc_input
from quietshelf.catalog.services.records import (
    record_create_from_marc,
    record_delete,
    record_update_core_fields,
    record_update_from_marc,
)

__all__ = [
    "BATCH_SIZE",
    "MATCH_SCHEMES",
    "UNIMARC_REASON",
    "ImportProblem",
    "ImportSummary",
    "Source",
    "branch_create",
    "decode_iso2709",
    "import_marc",
    "item_create",
    "item_delete",
    "item_type_create",
    "item_update",
    "load_holdings_map",
    "location_create",
    "parse_marc_input",
    "record_create_from_marc",
    "record_delete",
    "record_update_core_fields",
    "record_update_from_marc",
]
