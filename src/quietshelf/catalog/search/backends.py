"""Search engines behind one interface: SQLite FTS5 and PostgreSQL full text.

Tables (created by catalog migration 0002, written only from here):

- ``catalog_search``: one row per record with the facet values denormalised
  (format, language, year, era, available, sort_title); on PostgreSQL also the
  stored ``tsvector`` with a GIN index.
- ``catalog_search_branch``: (record, branch, any copy available there).
- ``catalog_search_fts`` (SQLite only): the FTS5 table, rowid = record id,
  columns title, author, subject, ident, rest.
- ``catalog_search_facet`` (SQLite only, migration 0003): the facet values
  again, with the record's branch ids as text, in rows narrow enough that
  counting facets over thousands of matches reads memory, not disk.
  PostgreSQL keeps the branch ids in ``catalog_search.branches`` instead.

Every statement is parameterised; match expressions are built from the
parsed query's words only, each word quoted (SEC-SQL-1). Nothing here logs
or stores the search text (PRV-SEP-1).
"""

from __future__ import annotations

import contextlib
import heapq
import json
import time
from collections import Counter, defaultdict

from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.utils.translation import gettext as _

from quietshelf.catalog.search.documents import TEXT_FIELDS, IndexDoc, build_doc
from quietshelf.catalog.search.query import Clause, ParsedQuery
from quietshelf.core.errors import InvalidInput

BATCH = 500
FIELD_COLUMNS = {"title": "title", "author": "author", "subject": "subject", "isbn": "ident"}
# Over this many matches, ranking and facet counts use a sample of this many
# (the most recently added) matches; facets are then scaled and marked
# approximate. Ranking and grouping 300,000 matches of a very common word
# costs far more than the first page is worth (PERF-CAT-2, SEC-DOS-1).
LARGE_RESULT = 20_000
# Facet counts are exact up to FACET_EXACT matches; beyond, they are
# estimated from FACET_SAMPLE matches and scaled (counting costs a row
# look-up per match, ~1 µs each on a warm SQLite; a sample of 2,000 keeps the
# estimate of a value holding 10 % of the result within about ±7 %).
FACET_EXACT = 5_000
FACET_SAMPLE = 2_000
# The deepest result a client can page to (deep OFFSETs are a cheap DoS).
MAX_OFFSET = 10_000

_RECORD_FIELDS = (
    "id",
    "title",
    "subtitle",
    "responsibility",
    "sort_title",
    "contributors",
    "subjects",
    "isbns",
    "issns",
    "publisher",
    "year",
    "language",
    "format",
    "edition",
    "series",
    "notes",
    "control_number",
    "marc_json",
)


# SQLite virtual-machine steps between two looks at the clock.
PROGRESS_STEPS = 10_000


class SearchTooSlow(InvalidInput):
    code = "search_too_slow"


@contextlib.contextmanager
def time_limit():
    """Abort a search that runs longer than QUIETSHELF_SEARCH_TIMEOUT_MS (SEC-DOS-1).

    SQLite: a progress handler interrupts the statement. PostgreSQL: a
    transaction-local statement_timeout inside a savepoint, so the caller's
    transaction survives the cancel.
    """
    limit_ms = int(getattr(settings, "QUIETSHELF_SEARCH_TIMEOUT_MS", 3000))
    if limit_ms <= 0:
        yield
        return
    too_slow = SearchTooSlow(
        _("This search is too broad to answer quickly. Please add words or choose a filter.")
    )
    if connection.vendor == "sqlite":
        connection.ensure_connection()
        raw = connection.connection
        deadline = time.monotonic() + limit_ms / 1000

        def over_time() -> int:
            return 1 if time.monotonic() > deadline else 0

        raw.set_progress_handler(over_time, PROGRESS_STEPS)
        try:
            yield
        except DatabaseError as exc:
            if "interrupted" in str(exc):
                raise too_slow from exc
            raise
        finally:
            raw.set_progress_handler(None, 0)
        return
    try:
        with transaction.atomic():
            with connection.cursor() as cur:
                cur.execute("SELECT set_config('statement_timeout', %s, true)", [str(limit_ms)])
            yield
            with connection.cursor() as cur:
                cur.execute("SELECT set_config('statement_timeout', '0', true)")
    except DatabaseError as exc:
        if "statement timeout" in str(exc) or "canceling statement" in str(exc):
            raise too_slow from exc
        raise


def load_docs(record_ids: list[int]) -> list[IndexDoc]:
    from quietshelf.catalog.models import BibRecord, Item

    items: dict[int, list[tuple[int, str]]] = defaultdict(list)
    for record_id, branch_id, status in Item.objects.filter(record_id__in=record_ids).values_list(
        "record_id", "branch_id", "status"
    ):
        items[record_id].append((branch_id, status))
    # The whole MARC record is only needed for its 880 fields: decode it just
    # for the records that have any (the import hot path, PERF-CAT-1).
    fields = [f for f in _RECORD_FIELDS if f != "marc_json"]
    rows = list(BibRecord.objects.filter(id__in=record_ids).values(*fields))
    with_880 = dict(
        BibRecord.objects.filter(id__in=record_ids, marc_json__icontains='"880"').values_list(
            "id", "marc_json"
        )
    )
    for row in rows:
        row["marc_json"] = with_880.get(row["id"])
    return [build_doc(row, items.get(row["id"], [])) for row in rows]


class Backend:
    """What both engines share: batching, facet SQL, filters, paging."""

    placeholder = "%s"

    # --- writing -----------------------------------------------------------
    def index_records(self, record_ids: list[int]) -> None:
        ids = sorted({int(i) for i in record_ids})
        if not ids:
            return
        with transaction.atomic():
            for start in range(0, len(ids), BATCH):
                chunk = ids[start : start + BATCH]
                docs = load_docs(chunk)
                with connection.cursor() as cur:
                    self._delete(cur, chunk)
                    self._insert(cur, docs)

    def index_rows(self, rows: list[dict], items: list[tuple[int, int, str]]) -> None:
        """Index records from their column values (see search.index_written_records)."""
        if not rows:
            return
        by_record: dict[int, list[tuple[int, str]]] = defaultdict(list)
        for record_id, branch_id, status in items:
            by_record[record_id].append((branch_id, status))
        docs = sorted(
            (build_doc(row, by_record.get(row["id"], [])) for row in rows),
            key=lambda d: d.record_id,
        )
        with transaction.atomic(), connection.cursor() as cur:
            for start in range(0, len(docs), BATCH):
                chunk = docs[start : start + BATCH]
                self._delete(cur, [d.record_id for d in chunk])
                self._insert(cur, chunk)

    def remove_records(self, record_ids: list[int]) -> None:
        ids = sorted({int(i) for i in record_ids})
        if not ids:
            return
        with transaction.atomic(), connection.cursor() as cur:
            for start in range(0, len(ids), BATCH):
                self._delete(cur, ids[start : start + BATCH])

    def clear(self) -> None:
        with transaction.atomic(), connection.cursor() as cur:
            for table in self.tables():
                cur.execute(f"DELETE FROM {table}")  # noqa: S608 - fixed table names

    def remove_orphans(self) -> None:
        """Drop index rows whose record is gone (after a test flush, a raw delete)."""
        with transaction.atomic(), connection.cursor() as cur:
            for table, key in self.table_keys():
                cur.execute(
                    f"DELETE FROM {table} WHERE {key} NOT IN (SELECT id FROM catalog_bibrecord)"  # noqa: S608
                )

    def tables(self) -> list[str]:
        return [t for t, _ in self.table_keys()]

    def table_keys(self) -> list[tuple[str, str]]:
        return [("catalog_search", "record_id"), ("catalog_search_branch", "record_id")]

    def _delete(self, cur, ids: list[int]) -> None:
        marks = ",".join(["%s"] * len(ids))
        for table, key in self.table_keys():
            cur.execute(f"DELETE FROM {table} WHERE {key} IN ({marks})", ids)  # noqa: S608

    def _insert(self, cur, docs: list[IndexDoc]) -> None:
        raise NotImplementedError

    # --- reading -----------------------------------------------------------
    def match_ids(
        self,
        parsed: ParsedQuery,
        filter_sql: str,
        filter_params: list,
        *,
        newest_first: bool = False,
        limit: int | None = None,
    ) -> tuple[str, list]:
        """A SELECT of one column `id`: the matching record ids, filters applied."""
        raise NotImplementedError

    def scored_matches(
        self, parsed: ParsedQuery, filter_sql: str, filter_params: list, *, limit: int
    ) -> tuple[str, list]:
        """A SELECT of (id, score) for up to `limit` matches; a lower score ranks higher."""
        raise NotImplementedError

    def id_set(self, ids: list[int]) -> tuple[str, list]:
        """A SELECT of one column `id` over a list of ids, as a single parameter."""
        raise NotImplementedError

    def _browse_ids(self, filter_sql, filter_params, newest_first=False, limit=None):
        sql = f"SELECT d.record_id AS id FROM catalog_search d WHERE 1=1{filter_sql}"  # noqa: S608
        if newest_first:
            sql += " ORDER BY d.record_id DESC"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        return sql, list(filter_params)

    def search(self, query, parsed: ParsedQuery):
        """Count, one page of ids and facet counts.

        The engine runs the match once, for up to LARGE_RESULT + 1 matches
        with their scores; page and facets come from that id list. Up to
        LARGE_RESULT matches the ranking is exact, and facet counts are exact
        up to FACET_EXACT matches (estimated from the first FACET_SAMPLE
        beyond, scaled and marked approximate). Past LARGE_RESULT (a very
        common word) the total is still exact on SQLite (a cheap count) but
        ranking, and sorting by title or year, work within the first
        LARGE_RESULT matches, which are also all that can be paged through.
        """
        from quietshelf.catalog.search import SearchResult

        page_size = max(1, min(int(query.page_size), 100))
        page = max(1, int(query.page))
        if (page - 1) * page_size > MAX_OFFSET:
            page = MAX_OFFSET // page_size + 1
        offset = (page - 1) * page_size
        fsql, fparams = self._filters(query.filters)
        sort = query.sort if query.sort in {"relevance", "title", "year", "-year"} else "relevance"
        if parsed.is_empty:
            return self._browse(
                query, fsql, fparams, sort, page, page_size, offset, truncated=parsed.truncated
            )

        if sort == "relevance" and self.ranks_in_engine(fsql):
            return self._ranked_in_engine(query, parsed, fsql, fparams, page, page_size, offset)

        sort_order = {
            "title": "d.sort_title, d.record_id",
            "year": "d.year IS NULL, d.year, d.sort_title, d.record_id",
            "-year": "d.year IS NULL, d.year DESC, d.sort_title, d.record_id",
        }
        with connection.cursor() as cur:
            rank_limit = min(LARGE_RESULT, self.rank_limit)
            sql, params = self.scored_matches(parsed, fsql, fparams, limit=rank_limit + 1)
            cur.execute(sql, params)
            rows = cur.fetchall()
            large = len(rows) > rank_limit
            total_approximate = False
            if large:
                rows = rows[:rank_limit]
                total, total_approximate = self.count_large(cur, parsed, fsql, fparams)
                total = max(total, len(rows) + 1)
            else:
                total = len(rows)
            all_ids = [row[0] for row in rows]
            ids: list[int] = []
            if rows and sort == "relevance" and self.facets_in_matches:
                # equal scores: a record with a copy on the shelf before one without
                # (the available flag comes with the facet values)
                best = heapq.nsmallest(
                    offset + page_size, rows, key=lambda r: (r[1], not r[5], -r[0])
                )
                ids = [row[0] for row in best[offset:]]
            elif rows and sort == "relevance":
                window = heapq.nsmallest(offset + page_size, rows, key=lambda r: (r[1], -r[0]))
                last = window[-1][1]
                # the whole tie group at the page's end, wherever it lies in the matches
                ties = [r for r in rows if r[1] == last]
                window = [r[:2] for r in window if r[1] != last] + [r[:2] for r in ties]
                ids = self._available_first(cur, window, offset, page_size)
            elif rows:
                set_sql, set_params = self.id_set(all_ids)
                cur.execute(
                    f"SELECT d.record_id FROM ({set_sql}) s "  # noqa: S608
                    "JOIN catalog_search d ON d.record_id = s.id "
                    f"ORDER BY {sort_order[sort]} LIMIT %s OFFSET %s",
                    [*set_params, page_size, offset],
                )
                ids = [row[0] for row in cur.fetchall()]
            if self.facets_in_matches:
                # Values already fetched: count as many as are exact to count.
                sample_size = min(len(all_ids), FACET_EXACT)
            else:
                sample_size = self.facet_sample_size(len(all_ids))
            sampled = len(all_ids) > sample_size
            scale = total / sample_size if (large or sampled) else 1.0
            if rows and self.facets_in_matches:
                # The ranking read each match's row: its facet values came with it.
                facets = self._count_facets(
                    Counter(row[2:] for row in rows[:sample_size]).items(),
                    query.filters,
                    scale=scale,
                )
            elif rows:
                set_sql, set_params = self.id_set(all_ids[:sample_size])
                facets = self._facets(cur, set_sql, set_params, total, query.filters, scale=scale)
            else:
                facets = self._facets(cur, "", [], 0, query.filters)
        return SearchResult(
            total=total,
            record_ids=ids,
            facets=facets,
            page=page,
            page_size=page_size,
            approximate_facets=large or sampled,
            truncated_query=parsed.truncated,
            total_approximate=total_approximate,
            reachable=min(len(rows), MAX_OFFSET + page_size),
        )

    rank_limit = LARGE_RESULT

    def _available_first(
        self, cur, window: list[tuple[int, float]], offset: int, page_size: int
    ) -> list[int]:
        """The page's ids from `window`, (id, score) rows holding every match that
        ranks up to the page's end (whole tie groups): by score, then a record with
        a copy on the shelf before one without, then newest first (CAT-4).

        Availability is read only for the records that share a score with another
        one in the window, usually none: the ranking itself never leaves the engine.
        """
        seen = Counter(score for _, score in window)
        tied = [rid for rid, score in window if seen[score] > 1]
        available: set[int] = set()
        if tied:
            set_sql, set_params = self.id_set(tied)
            cur.execute(
                f"SELECT d.record_id FROM ({set_sql}) s "  # noqa: S608
                "JOIN catalog_search d ON d.record_id = s.id WHERE d.available = %s",
                [*set_params, self.true],
            )
            available = {row[0] for row in cur.fetchall()}
        window = sorted(window, key=lambda r: (r[1], r[0] not in available, -r[0]))
        return [r[0] for r in window[offset : offset + page_size]]

    def ranks_in_engine(self, filter_sql: str) -> bool:
        """True when _ranked_in_engine answers a relevance search with these filters:
        the engine counts, ranks and groups, instead of Python fetching and
        sorting every score (the same answer, less work)."""
        return False

    def _ranked_in_engine(self, query, parsed, fsql, fparams, page, page_size, offset):
        raise NotImplementedError

    def facet_sample_size(self, matches: int) -> int:
        """How many of `matches` (in engine order) facets are counted over."""
        if matches <= FACET_EXACT:
            return matches
        return min(FACET_SAMPLE, FACET_EXACT)

    # True when scored_matches returns each match's facet values after its
    # score: (id, score, format, language, era, available, branches).
    facets_in_matches = False

    def count_large(self, cur, parsed, fsql, fparams) -> tuple[int, bool]:
        """The total of a very large result: (count, is it an estimate)."""
        sql, params = self.match_ids(parsed, fsql, fparams)
        cur.execute(f"SELECT count(*) FROM ({sql}) p", params)  # noqa: S608
        return cur.fetchone()[0], False

    def _browse(self, query, fsql, fparams, sort, page, page_size, offset, *, truncated=False):
        """No words: every record (filters applied), by title or year."""
        from quietshelf.catalog.search import SearchResult

        sort_order = {
            "title": "d.sort_title, d.record_id",
            "relevance": "d.sort_title, d.record_id",
            "year": "d.year IS NULL, d.year, d.sort_title, d.record_id",
            "-year": "d.year IS NULL, d.year DESC, d.sort_title, d.record_id",
        }[sort]
        with connection.cursor() as cur:
            cur.execute(f"SELECT count(*) FROM catalog_search d WHERE 1=1{fsql}", fparams)  # noqa: S608
            total = cur.fetchone()[0]
            cur.execute(
                f"SELECT d.record_id FROM catalog_search d WHERE 1=1{fsql} "  # noqa: S608
                f"ORDER BY {sort_order} LIMIT %s OFFSET %s",
                [*fparams, page_size, offset],
            )
            ids = [row[0] for row in cur.fetchall()]
            sample_size = self.facet_sample_size(total)
            large = total > sample_size
            sample, sample_params = self._browse_ids(
                fsql, fparams, newest_first=large, limit=sample_size if large else None
            )
            facets = self._facets(
                cur,
                sample,
                sample_params,
                total,
                query.filters,
                scale=total / sample_size if large else 1.0,
            )
        return SearchResult(
            total=total,
            record_ids=ids,
            facets=facets,
            page=page,
            page_size=page_size,
            approximate_facets=large,
            truncated_query=truncated,
            reachable=MAX_OFFSET + page_size,
        )

    def _filters(self, filters: dict[str, list[str]]) -> tuple[str, list]:
        from quietshelf.catalog.models import Branch

        sql: list[str] = []
        params: list = []
        for name, column in (("format", "d.format"), ("language", "d.language"), ("era", "d.era")):
            values = [str(v)[:32] for v in (filters.get(name) or [])][:20]
            if values:
                sql.append(f" AND {column} IN ({','.join(['%s'] * len(values))})")
                params.extend(values)
        if filters.get("available"):
            sql.append(" AND d.available = %s")
            params.append(self.true)
        codes = [str(v)[:32] for v in (filters.get("branch") or [])][:20]
        if codes:
            branch_ids = list(Branch.objects.filter(code__in=codes).values_list("id", flat=True))
            if not branch_ids:
                branch_ids = [-1]
            marks = ",".join(["%s"] * len(branch_ids))
            sql.append(
                " AND EXISTS (SELECT 1 FROM catalog_search_branch b "  # noqa: S608
                f"WHERE b.record_id = d.record_id AND b.branch_id IN ({marks}))"
            )
            params.extend(branch_ids)
        return "".join(sql), params

    true = 1

    def _facets(self, cur, source_sql, params, total, filters, scale: float = 1.0):
        """Facet counts over the ids `source_sql` selects (one look-up per id)."""
        if not total:
            return self._count_facets([], filters)
        cur.execute(self.facet_sql(source_sql), params)
        return self._count_facets(
            ((tuple(row[:-1]), row[-1]) for row in cur.fetchall()), filters, scale=scale
        )

    def _count_facets(self, groups, filters, scale: float = 1.0):
        """groups: ((format, language, era, available, branch ids "3,5"), count) pairs."""
        from quietshelf.catalog.models import Branch

        counts: dict[str, dict[str, int]] = {
            "format": defaultdict(int),
            "language": defaultdict(int),
            "era": defaultdict(int),
            "available": defaultdict(int),
            "branch": defaultdict(int),
        }
        by_branch: dict[int, int] = defaultdict(int)
        for (fmt, lang, era, available, branches), n in groups:
            counts["format"][fmt] += n
            if lang:
                counts["language"][lang] += n
            if era:
                counts["era"][era] += n
            if available:
                counts["available"]["1"] += n
            if branches:
                for branch_id in branches.split(","):
                    by_branch[int(branch_id)] += n
        labels = {}
        if by_branch:
            found = Branch.objects.filter(id__in=list(by_branch)).only("id", "code", "name")
            for b in found:
                counts["branch"][b.code] += by_branch[b.id]
                labels[b.code] = b.name
        if scale != 1.0:
            for facet in counts.values():
                for key in facet:
                    facet[key] = max(1, round(facet[key] * scale))
        return self._facet_lists(counts, filters, labels)

    def facet_sql(self, source_sql: str) -> str:
        """(format, language, era, available, branches, count) over the ids selected."""
        raise NotImplementedError

    def _facet_lists(self, counts, filters, branch_labels):
        from quietshelf.catalog.search import FacetValue

        out = {}
        for name, values in counts.items():
            selected = {str(v) for v in (filters.get(name) or [])}
            items = [
                FacetValue(
                    value=value,
                    label=branch_labels.get(value, value) if name == "branch" else value,
                    count=n,
                    selected=value in selected,
                )
                for value, n in values.items()
            ]
            if name == "era":
                items.sort(key=lambda f: (f.value == "pre1900", f.value), reverse=False)
                items.sort(key=lambda f: f.value if f.value != "pre1900" else "0", reverse=True)
            else:
                items.sort(key=lambda f: (-f.count, f.label))
            out[name] = items
        return out


class SQLiteBackend(Backend):
    """FTS5, unicode61 with diacritics removed and combining marks kept in words."""

    vendor = "sqlite"

    def search(self, query, parsed):
        self._raise_page_cache()
        return super().search(query, parsed)

    @staticmethod
    def _raise_page_cache() -> None:
        """Give the connection a page cache of QUIETSHELF_SEARCH_SQLITE_CACHE_KIB.

        bm25 reads a `%_docsize` row per match and facets a
        `catalog_search_facet` row per sampled match, scattered over the
        file: with SQLite's default 2 MB cache most are misses, each a read
        from the OS. 64 MB took ~15 % off a 10,000-match search at 1M
        records (PERF-CAT-2). The cache is per connection and fills only as
        pages are read; it is never lowered here (0 leaves it alone).
        """
        kib = int(getattr(settings, "QUIETSHELF_SEARCH_SQLITE_CACHE_KIB", 65_536))
        if kib <= 0:
            return
        with connection.cursor() as cur:
            cur.execute("PRAGMA cache_size")
            current = cur.fetchone()[0]
            # negative: KiB; positive: pages (counted at 4 KiB, the default page size)
            if (-current if current < 0 else current * 4) < kib:
                cur.execute(f"PRAGMA cache_size = -{kib}")

    def table_keys(self):
        return [
            *super().table_keys(),
            ("catalog_search_facet", "record_id"),
            ("catalog_search_fts", "rowid"),
        ]

    def _insert(self, cur, docs):
        if not docs:
            return
        cur.executemany(
            "INSERT INTO catalog_search (record_id, format, language, year, era, available, "
            "sort_title) VALUES (%s, %s, %s, %s, %s, %s, %s)",
            [
                (d.record_id, d.format, d.language, d.year, d.era, int(d.available), d.sort_title)
                for d in docs
            ],
        )
        cur.executemany(
            "INSERT INTO catalog_search_facet (record_id, format, language, era, available, "
            "branches) VALUES (%s, %s, %s, %s, %s, %s)",
            [
                (d.record_id, d.format, d.language, d.era, int(d.available), branch_list(d))
                for d in docs
            ],
        )
        cur.executemany(
            "INSERT INTO catalog_search_fts (rowid, title, author, subject, ident, rest) "
            "VALUES (%s, %s, %s, %s, %s, %s)",
            [(d.record_id, *(" ".join(d.text[f]) for f in TEXT_FIELDS)) for d in docs],
        )
        branch_rows = [
            (d.record_id, branch_id, int(avail))
            for d in docs
            for branch_id, avail in d.branches.items()
        ]
        if branch_rows:
            cur.executemany(
                "INSERT INTO catalog_search_branch (record_id, branch_id, available) "
                "VALUES (%s, %s, %s)",
                branch_rows,
            )

    @staticmethod
    def match_expression(parsed: ParsedQuery) -> str:
        parts = []
        for clause in parsed.clauses:
            quoted = '"' + " ".join(w.replace('"', '""') for w in clause.words) + '"'
            if clause.prefix:
                quoted += " *"
            if clause.field:
                quoted = f"{FIELD_COLUMNS[clause.field]} : {quoted}"
            parts.append(quoted)
        return " AND ".join(parts)

    BM25 = "bm25(catalog_search_fts, 10.0, 5.0, 4.0, 3.0, 1.0)"
    # Rows fetched past the page to see the end of its last tie group.
    TIE_ROOM = 256

    def match_ids(self, parsed, filter_sql, filter_params, *, newest_first=False, limit=None):
        order = " ORDER BY rowid DESC" if newest_first else ""
        fts = f"SELECT rowid AS id FROM catalog_search_fts WHERE catalog_search_fts MATCH %s{order}"  # noqa: S608
        params = [self.match_expression(parsed)]
        if filter_sql:
            # Filters need the facet columns: join each match to its row.
            sql = (
                f"SELECT d.record_id AS id FROM ({fts}) m "  # noqa: S608
                f"JOIN catalog_search d ON d.record_id = m.id WHERE 1=1{filter_sql}"
            )
            params += filter_params
        else:
            # No filters: the FTS table alone answers (no lookup per match).
            sql = fts
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        return sql, params

    def scored_matches(self, parsed, filter_sql, filter_params, *, limit):
        inner = (
            f"SELECT rowid AS id, {self.BM25} AS score FROM catalog_search_fts "  # noqa: S608
            "WHERE catalog_search_fts MATCH %s"
        )
        if filter_sql:
            inner = (
                f"SELECT m.id, m.score FROM ({inner}) m "  # noqa: S608
                f"JOIN catalog_search d ON d.record_id = m.id WHERE 1=1{filter_sql}"
            )
        return f"{inner} LIMIT {int(limit)}", [self.match_expression(parsed), *filter_params]

    def id_set(self, ids):
        return "SELECT value AS id FROM json_each(%s)", [json.dumps(ids)]

    def ranks_in_engine(self, filter_sql):
        # A filter needs each match's catalog_search row: the general path
        # reads them once, this one would for the count, page and sample each.
        return not filter_sql

    def _ranked_in_engine(self, query, parsed, fsql, fparams, page, page_size, offset):
        """An unfiltered search by relevance, with the same answer as the general path.

        Each match is only touched inside FTS5 (its doclist and the bm25
        column sizes): a count, the page by `ORDER BY bm25 LIMIT` (exact
        up to LARGE_RESULT matches, within the first LARGE_RESULT beyond)
        and the facet sample (the first matches, see facet_sample_size). Bringing every
        score into Python to pick the page cost a fifth of a 10,000-match
        search (PERF-CAT-2).
        """
        from quietshelf.catalog.search import SearchResult

        match = self.match_expression(parsed)
        with connection.cursor() as cur:
            cur.execute(
                "SELECT count(*) FROM catalog_search_fts WHERE catalog_search_fts MATCH %s",
                [match],
            )
            total = cur.fetchone()[0]
            ranked = min(total, LARGE_RESULT)
            large = total > LARGE_RESULT
            # Within the first LARGE_RESULT matches (rowid order), as the general path.
            cap = f" LIMIT {LARGE_RESULT}" if large else ""
            scored = (
                f"SELECT rowid AS id, {self.BM25} AS score "  # noqa: S608
                f"FROM catalog_search_fts WHERE catalog_search_fts MATCH %s{cap}"
            )
            # The page and everything before it, and TIE_ROOM rows more: equal
            # scores are common (short records of equal length), and the tie group
            # at the page's end must be whole to put its available records first.
            end = offset + page_size
            cur.execute(
                f"SELECT id, score FROM ({scored}) ORDER BY score, id DESC LIMIT %s",  # noqa: S608
                [match, end + self.TIE_ROOM],
            )
            rows = cur.fetchall()
            window = rows[:end]
            if window:
                last = window[-1][1]
                window += [r for r in rows[end:] if r[1] == last]
                if len(rows) == end + self.TIE_ROOM and rows[-1][1] == last:
                    # A larger tie group than that: the whole group, by its score.
                    cur.execute(
                        f"SELECT id, score FROM ({scored}) WHERE score = %s",  # noqa: S608
                        [match, last],
                    )
                    window = [r for r in window if r[1] != last] + cur.fetchall()
            ids = self._available_first(cur, window, offset, page_size)
            sample_size = self.facet_sample_size(ranked)
            sampled = ranked > sample_size
            sample_sql, sample_params = self.match_ids(parsed, "", [], limit=sample_size)
            facets = self._facets(
                cur,
                sample_sql,
                sample_params,
                total,
                query.filters,
                scale=total / sample_size if (large or sampled) else 1.0,
            )
        return SearchResult(
            total=total,
            record_ids=ids,
            facets=facets,
            page=page,
            page_size=page_size,
            approximate_facets=large or sampled,
            truncated_query=parsed.truncated,
            total_approximate=False,
            reachable=min(ranked, MAX_OFFSET + page_size),
        )

    def facet_sql(self, source_sql):
        # Grouped with the branch list: a few thousand groups at most, split in Python.
        return (
            "SELECT f.format, f.language, f.era, f.available, f.branches, count(*) "  # noqa: S608
            f"FROM ({source_sql}) s JOIN catalog_search_facet f ON f.record_id = s.id "
            "GROUP BY f.format, f.language, f.era, f.available, f.branches"
        )


class PostgresBackend(Backend):
    """Stored tsvector with a GIN index, 'simple' configuration, our own words.

    Weights: A title, B contributors, C subjects, D identifiers and the rest
    (fielded search needs contributors and subjects apart). The tsvector is
    written as a literal from the words text.py made, so both engines index
    exactly the same words.
    """

    vendor = "postgresql"
    true = True
    WEIGHTS = {"title": "A", "author": "B", "subject": "C", "ident": "D", "rest": "D"}
    FIELD_WEIGHT = {"title": "A", "author": "B", "subject": "C", "isbn": "D"}
    RANK_WEIGHTS = "{0.2, 0.4, 0.5, 1.0}"  # D, C, B, A

    @staticmethod
    def _lexeme(word: str) -> str:
        return "'" + word.replace("\\", "\\\\").replace("'", "''") + "'"

    def tsvector_literal(self, doc: IndexDoc) -> str:
        positions: dict[str, list[str]] = defaultdict(list)
        pos = 1
        for name in TEXT_FIELDS:
            weight = self.WEIGHTS[name]
            for word in doc.text.get(name, []):
                if pos > 16383:
                    break
                slot = positions[word]
                if len(slot) < 256:
                    slot.append(f"{pos}{weight}")
                pos += 1
            pos += 10  # no phrase across two fields
        return " ".join(f"{self._lexeme(w)}:{','.join(p)}" for w, p in positions.items())

    def _delete(self, cur, ids: list[int]) -> None:
        # one array parameter instead of a placeholder per id
        for table, key in self.table_keys():
            cur.execute(f"DELETE FROM {table} WHERE {key} = ANY(%s)", [ids])  # noqa: S608

    def _insert(self, cur, docs):
        """COPY the rows in: the tsvector goes as the same literal an INSERT would
        cast (so the stored document is identical), without a statement per row."""
        if not docs:
            return
        raw = cur.cursor  # psycopg's own cursor, under Django's wrapper
        with raw.copy(
            "COPY catalog_search (record_id, format, language, year, era, available, "
            "sort_title, branches, doc) FROM STDIN"
        ) as copy:
            literal = self.tsvector_literal
            for d in docs:
                copy.write_row(
                    (
                        d.record_id,
                        d.format,
                        d.language,
                        d.year,
                        d.era,
                        d.available,
                        d.sort_title,
                        branch_list(d),
                        literal(d),
                    )
                )
        branch_rows = [
            (d.record_id, branch_id, avail) for d in docs for branch_id, avail in d.branches.items()
        ]
        if branch_rows:
            with raw.copy(
                "COPY catalog_search_branch (record_id, branch_id, available) FROM STDIN"
            ) as copy:
                for row in branch_rows:
                    copy.write_row(row)

    def tsquery_literal(self, parsed: ParsedQuery) -> str:
        parts = []
        for clause in parsed.clauses:
            parts.append(self._clause(clause))
        return " & ".join(parts)

    def _clause(self, clause: Clause) -> str:
        weight = self.FIELD_WEIGHT.get(clause.field or "", "")
        words = []
        for i, word in enumerate(clause.words):
            star = "*" if clause.prefix and i == len(clause.words) - 1 else ""
            label = f":{star}{weight}" if (star or weight) else ""
            words.append(self._lexeme(word) + label)
        if len(words) == 1:
            return words[0]
        return "(" + " <-> ".join(words) + ")"

    def match_ids(self, parsed, filter_sql, filter_params, *, newest_first=False, limit=None):
        # newest_first is not honoured: sorting a bitmap scan's rows by id
        # would cost what the sample saves; the sample is in heap order.
        sql = (
            "SELECT d.record_id AS id FROM catalog_search d "  # noqa: S608
            f"WHERE d.doc @@ %s::tsquery{filter_sql}"
        )
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        return sql, [self.tsquery_literal(parsed), *filter_params]

    # Ranking reads each match's row; its facet values cost nothing more.
    facets_in_matches = True

    def scored_matches(self, parsed, filter_sql, filter_params, *, limit):
        literal = self.tsquery_literal(parsed)
        return (
            "SELECT d.record_id, "  # noqa: S608
            f"-ts_rank_cd('{self.RANK_WEIGHTS}', d.doc, %s::tsquery) AS score, "
            "d.format, d.language, d.era, d.available, d.branches "
            f"FROM catalog_search d WHERE d.doc @@ %s::tsquery{filter_sql} LIMIT {int(limit)}",
            [literal, literal, *filter_params],
        )

    def id_set(self, ids):
        return "SELECT unnest(%s::bigint[]) AS id", [ids]

    def ranks_in_engine(self, filter_sql):
        return True

    def _ranked_in_engine(self, query, parsed, fsql, fparams, page, page_size, offset):
        """One statement: the ranked matches (up to rank_limit + 1, as the
        general path) kept in a CTE, and from it the page, the count and the
        grouped facet values. Nothing per match travels to Python (fetching
        and sorting 5,000 rows cost ~9 ms of client CPU, PERF-CAT-2)."""
        from quietshelf.catalog.search import SearchResult

        literal = self.tsquery_literal(parsed)
        rank_limit = min(LARGE_RESULT, self.rank_limit)
        counted = min(rank_limit, FACET_EXACT)
        sql = (
            "WITH m AS MATERIALIZED (SELECT d.record_id AS id, "  # noqa: S608
            f"-ts_rank_cd('{self.RANK_WEIGHTS}', d.doc, %s::tsquery) AS score, "
            "d.format, d.language, d.era, d.available, d.branches, "
            "row_number() OVER () AS n "
            f"FROM catalog_search d WHERE d.doc @@ %s::tsquery{fsql} LIMIT {rank_limit + 1}) "
            "SELECT 'p', id, score, NULL::text, NULL::text, NULL::text, NULL::boolean, "
            "NULL::text FROM (SELECT id, score FROM m "
            f"WHERE n <= {rank_limit} ORDER BY score, available DESC, id DESC "
            "LIMIT %s OFFSET %s) p "
            "UNION ALL SELECT 'c', count(*), NULL, NULL, NULL, NULL, NULL, NULL FROM m "
            "UNION ALL SELECT 'f', count(*), NULL, format, language, era, available, "
            f"branches FROM m WHERE n <= {counted} "
            "GROUP BY format, language, era, available, branches"
        )
        with connection.cursor() as cur:
            cur.execute(sql, [literal, literal, *fparams, page_size, offset])
            page_rows, groups, found = [], [], 0
            for kind, number, score, *values in cur.fetchall():
                if kind == "p":
                    page_rows.append((number, score))
                elif kind == "c":
                    found = number
                else:
                    groups.append((tuple(values), number))
            ids = [row[0] for row in page_rows]
            large = found > rank_limit
            ranked = min(found, rank_limit)
            total, total_approximate = found, False
            if large:
                total, total_approximate = self.count_large(cur, parsed, fsql, fparams)
                total = max(total, ranked + 1)
            sample_size = min(ranked, counted)
            sampled = ranked > sample_size
            if ranked:
                facets = self._count_facets(
                    groups,
                    query.filters,
                    scale=total / sample_size if (large or sampled) else 1.0,
                )
            else:
                facets = self._count_facets([], query.filters)
        return SearchResult(
            total=total,
            record_ids=ids,
            facets=facets,
            page=page,
            page_size=page_size,
            approximate_facets=large or sampled,
            truncated_query=parsed.truncated,
            total_approximate=total_approximate,
            reachable=min(ranked, MAX_OFFSET + page_size),
        )

    # ts_rank_cd reads (detoasts) every ranked document: rank fewer of them.
    rank_limit = 5_000

    def count_large(self, cur, parsed, fsql, fparams):
        # Counting 300,000 GIN matches visits every heap row; the planner's
        # estimate (from the tsvector statistics ANALYZE keeps) costs nothing
        # and is shown as "about N".
        sql, params = self.match_ids(parsed, fsql, fparams)
        cur.execute(f"EXPLAIN (FORMAT JSON) {sql}", params)  # noqa: S608
        plan = cur.fetchone()[0]
        if isinstance(plan, str):
            plan = json.loads(plan)
        return int(plan[0]["Plan"]["Plan Rows"]), True

    def facet_sql(self, source_sql):
        # = ANY(array) lets the planner walk the primary key per id instead of
        # hashing the whole table.
        return (
            "SELECT d.format, d.language, d.era, d.available, d.branches, count(*) "  # noqa: S608
            "FROM catalog_search d "
            f"WHERE d.record_id = ANY(ARRAY(SELECT s.id FROM ({source_sql}) s)) "
            "GROUP BY d.format, d.language, d.era, d.available, d.branches"
        )


def branch_list(doc: IndexDoc) -> str:
    """The record's branch ids as the facet columns hold them: "3,5"."""
    return ",".join(str(b) for b in sorted(doc.branches))


def get_backend() -> Backend:
    if connection.vendor == "postgresql":
        return PostgresBackend()
    return SQLiteBackend()
