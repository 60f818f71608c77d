"""Catalogue search: one interface, two engines (SQLite FTS5, PostgreSQL full text).

Services call index_records()/remove_records() inside their own transaction,
so the index always changes together with the record (issue 3, item 8).
Search terms are never logged or stored (PRV-SEP-1).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.utils.translation import gettext as _

from quietshelf.core.errors import InvalidInput


@dataclass(frozen=True)
class SearchQuery:
    text: str = ""
    filters: dict[str, list[str]] = field(default_factory=dict)  # facet name -> values
    sort: str = "relevance"  # relevance | title | year | -year
    page: int = 1
    page_size: int = 20


@dataclass
class FacetValue:
    value: str
    label: str
    count: int
    selected: bool = False


@dataclass
class SearchResult:
    total: int
    record_ids: list[int]
    facets: dict[str, list[FacetValue]]
    page: int
    page_size: int
    # True when facet counts were estimated from a sample of a very large
    # result (shown as "about"); the total itself is always exact.
    approximate_facets: bool = False
    # True when the query had more words than the parser takes (extra dropped).
    truncated_query: bool = False
    # True when the total of a very large result is the engine's estimate
    # (PostgreSQL past its rank limit); shown as "about N results".
    total_approximate: bool = False

    # How many results can be paged through (a very large result is ranked
    # within a sample, and deep pages are not served); None = all.
    reachable: int | None = None

    @property
    def pages(self) -> int:
        count = self.total if self.reachable is None else min(self.total, self.reachable)
        return max(1, -(-count // self.page_size))


FACETS = ("format", "language", "era", "branch", "available")


def search(query: SearchQuery) -> SearchResult:
    """Run a search.

    Raises core.errors.InvalidInput: QueryTooLong for oversize text,
    SearchTooSlow when the engine needs longer than
    QUIETSHELF_SEARCH_TIMEOUT_MS (default 3000) for it (SEC-DOS-1).
    The text goes through query.parse(), which keeps only words, so no user
    syntax reaches the engine (SEC-SQL-1). Neither text nor results are logged.
    """
    from quietshelf.catalog.search.backends import get_backend, time_limit
    from quietshelf.catalog.search.query import parse

    query = _without_control_characters(query)
    parsed = parse(query.text)
    if parsed.is_empty and query.text.strip():
        # "***", "(((", "title:" or invisible characters: words were typed but none is
        # searchable; answering with every record would mislead
        raise NoSearchTerms(_("No search terms: type a word, a name or an ISBN."))
    backend = get_backend()
    with time_limit():
        return backend.search(query, parsed)


# Who wants to hear of public searches (a higher layer registers here: the search
# statistics count them in aggregate, PRV-SEP-1); catalog itself imports none of them.
_search_listeners: list = []


def on_public_search(listener) -> None:
    """Call `listener(query, result)` after each public catalogue search (once each)."""
    if listener not in _search_listeners:
        _search_listeners.append(listener)


def public_search_done(query: SearchQuery, result: SearchResult) -> None:
    """Tell the listeners of a finished public search; a failing listener never fails it."""
    import logging

    for listener in list(_search_listeners):
        try:
            listener(query, result)
        except Exception:  # noqa: BLE001 - statistics must never break a search
            logging.getLogger("quietshelf.search").exception("search listener failed")


class NoSearchTerms(InvalidInput):
    code = "no_search_terms"


def clean_text(value: str) -> str:
    """What may be echoed back into a search box: no control characters (NUL and the like)."""
    return _clean(value or "")


def _clean(value: str) -> str:
    # NUL and other control characters are never part of a word or a facet
    # value, and PostgreSQL refuses NUL in text outright.
    return "".join(ch for ch in value if ch >= " " or ch in "\t\n")


def _without_control_characters(query: SearchQuery) -> SearchQuery:
    from dataclasses import replace

    filters = {
        name: [_clean(v) for v in values if _clean(v)] for name, values in query.filters.items()
    }
    return replace(query, text=_clean(query.text), filters={k: v for k, v in filters.items() if v})


def index_records(record_ids) -> None:
    """(Re)index these records; call inside the service's transaction."""
    from quietshelf.catalog.search.backends import get_backend

    get_backend().index_records(list(record_ids))


def index_written_records(rows: list[dict], items: list[tuple[int, int, str]]) -> None:
    """Index records written in this transaction from the values just written
    (the MARC import, PERF-CAT-1), instead of reading them back.

    rows: each record's column values as stored (the keys load_docs reads:
    id, title, …, marc_json); items: (record id, branch id, status) of all
    their items. The documents are the ones index_records would build
    (tests/catalog/test_import.py compares them).
    """
    from quietshelf.catalog.search.backends import get_backend

    get_backend().index_rows(rows, items)


def refresh_availability(record_ids) -> None:
    """After items changed status only: recompute these records' availability columns
    (any copy available; per branch) in place, inside the caller's transaction.

    A document's branches come from its items whatever their status, so a
    status change can only flip these flags; check-out and check-in call this
    instead of rebuilding the whole document (PERF-CIRC-1). A record that has
    no document yet is indexed in full.
    """
    from django.db import connection

    from quietshelf.catalog.models import Item

    ids = sorted({int(i) for i in record_ids})
    if not ids:
        return
    marks = ",".join(["%s"] * len(ids))
    item = connection.ops.quote_name(Item._meta.db_table)
    # fixed table names; the ids are parameters
    per_branch = (
        "UPDATE catalog_search_branch SET available = EXISTS ("  # noqa: S608
        f"SELECT 1 FROM {item} i WHERE i.record_id = catalog_search_branch.record_id "
        "AND i.branch_id = catalog_search_branch.branch_id AND i.status = 'available') "
        f"WHERE record_id IN ({marks})"
    )
    whole = (
        "UPDATE catalog_search SET available = EXISTS ("  # noqa: S608
        f"SELECT 1 FROM {item} i WHERE i.record_id = catalog_search.record_id "
        f"AND i.status = 'available') WHERE record_id IN ({marks})"
    )
    with connection.cursor() as cur:
        if connection.vendor == "postgresql":
            # one round trip: a data-modifying WITH runs to completion either way
            cur.execute(f"WITH b AS ({per_branch}) {whole}", ids + ids)
        else:
            cur.execute(per_branch, ids)
            cur.execute(whole, ids)
        if cur.rowcount == len(ids):
            return
        cur.execute(f"SELECT record_id FROM catalog_search WHERE record_id IN ({marks})", ids)  # noqa: S608
        have = {row[0] for row in cur.fetchall()}
    index_records([i for i in ids if i not in have])


def remove_records(record_ids) -> None:
    from quietshelf.catalog.search.backends import get_backend

    get_backend().remove_records(list(record_ids))
