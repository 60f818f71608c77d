"""Search engines behind one interface: SQLite FTS5 and PostgreSQL full text.

Tables (created by catalog migration 0002, written only from here):

- ``catalog_search``: one row per record with the facet values denormalised
  (format, language, year, era, available, sort_title); on PostgreSQL also the
  stored ``tsvector`` with a GIN index.
- ``catalog_search_branch``: (record, branch, any copy available there).
- ``catalog_search_fts`` (SQLite only): the FTS5 table, rowid = record id,
  columns title, author, subject, ident, rest.

Every statement is parameterised; match expressions are built from the
parsed query's words only, each word quoted (SEC-SQL-1). Nothing here logs
or stores the search text (PRV-SEP-1).
"""

from __future__ import annotations

from collections import defaultdict

from django.db import connection, transaction

from quietshelf.catalog.search.documents import TEXT_FIELDS, IndexDoc, build_doc
from quietshelf.catalog.search.query import Clause, ParsedQuery

BATCH = 500
FIELD_COLUMNS = {"title": "title", "author": "author", "subject": "subject", "isbn": "ident"}
# Over this many matches, ranking and facet counts use a sample of this many
# (the most recently added) matches; facets are then scaled and marked
# approximate. Ranking and grouping 300,000 matches of a very common word
# costs far more than the first page is worth (PERF-CAT-2, SEC-DOS-1).
LARGE_RESULT = 20_000
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


def load_docs(record_ids: list[int]) -> list[IndexDoc]:
    from quietshelf.catalog.models import BibRecord, Item

    items: dict[int, list[tuple[int, str]]] = defaultdict(list)
    for record_id, branch_id, status in Item.objects.filter(record_id__in=record_ids).values_list(
        "record_id", "branch_id", "status"
    ):
        items[record_id].append((branch_id, status))
    rows = BibRecord.objects.filter(id__in=record_ids).values(*_RECORD_FIELDS)
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
    # Every source is "FROM ... WHERE ..." with the index row aliased d, so
    # filters (" AND ...") can be appended.
    def unscored_source(self, parsed: ParsedQuery) -> tuple[str, list]:
        raise NotImplementedError

    def scored_source(self, parsed: ParsedQuery) -> tuple[str, list, str, list]:
        """(source, its params, score ORDER BY expression, its params)."""
        raise NotImplementedError

    def sample_source(self, parsed: ParsedQuery, filter_sql: str, filter_params: list, limit: int):
        """A derived table d of at most `limit` matches with a score column."""
        raise NotImplementedError

    def count_matches(self, parsed: ParsedQuery, source_sql: str, params: list, filtered: bool):
        with connection.cursor() as cur:
            cur.execute(f"SELECT count(*) {source_sql}", params)  # noqa: S608
            return cur.fetchone()[0]

    def search(self, query, parsed: ParsedQuery):
        """Count, one page of ids and facet counts.

        Small results (up to LARGE_RESULT matches) are exact. For a very
        common word the engine would rank and group hundreds of thousands of
        rows, so then: the total is still exact (a cheap count), but ranking
        and facet counts are done over a sample of LARGE_RESULT matches (the
        most recently added), and the facets are marked approximate.
        """
        from quietshelf.catalog.search import SearchResult

        page_size = max(1, min(int(query.page_size), 100))
        page = max(1, int(query.page))
        if (page - 1) * page_size > MAX_OFFSET:
            page = MAX_OFFSET // page_size + 1
        offset = (page - 1) * page_size

        filter_sql, filter_params = self._filters(query.filters)
        if parsed.is_empty:
            base, base_params = "FROM catalog_search d WHERE 1=1", []
        else:
            base, base_params = self.unscored_source(parsed)
        source_sql = base + filter_sql
        params = base_params + filter_params

        sort = query.sort if query.sort in {"relevance", "title", "year", "-year"} else "relevance"
        if sort == "relevance" and parsed.is_empty:
            sort = "title"
        sort_order = {
            "title": "d.sort_title, d.record_id",
            "year": "d.year IS NULL, d.year, d.sort_title, d.record_id",
            "-year": "d.year IS NULL, d.year DESC, d.sort_title, d.record_id",
        }
        with connection.cursor() as cur:
            cur.execute(
                f"SELECT count(*) FROM (SELECT 1 {source_sql} LIMIT {LARGE_RESULT + 1}) p",  # noqa: S608
                params,
            )
            probe = cur.fetchone()[0]
            large = probe > LARGE_RESULT
            total = (
                self.count_matches(parsed, source_sql, params, bool(filter_sql)) if large else probe
            )
            ids: list[int] = []
            sample_sql = sample_params = None
            if large:
                if parsed.is_empty:
                    sample_sql = (
                        "FROM (SELECT d.record_id, d.format, d.language, d.era, d.available "  # noqa: S608
                        f"{source_sql} ORDER BY d.record_id DESC LIMIT {LARGE_RESULT}) d"
                    )
                    sample_params = params
                else:
                    sample_sql, sample_params = self.sample_source(
                        parsed, filter_sql, filter_params, LARGE_RESULT
                    )
            if total and sort == "relevance":
                if large:
                    cur.execute(
                        f"SELECT d.record_id {sample_sql} "  # noqa: S608
                        "ORDER BY d.score, d.record_id DESC LIMIT %s OFFSET %s",
                        [*sample_params, page_size, offset],
                    )
                else:
                    scored, scored_params, score, score_params = self.scored_source(parsed)
                    cur.execute(
                        f"SELECT d.record_id {scored}{filter_sql} "  # noqa: S608
                        f"ORDER BY {score}, d.record_id DESC LIMIT %s OFFSET %s",
                        [*scored_params, *filter_params, *score_params, page_size, offset],
                    )
                ids = [row[0] for row in cur.fetchall()]
            elif total:
                cur.execute(
                    f"SELECT d.record_id {source_sql} ORDER BY {sort_order[sort]} "  # noqa: S608
                    "LIMIT %s OFFSET %s",
                    [*params, page_size, offset],
                )
                ids = [row[0] for row in cur.fetchall()]
            if large:
                facets = self._facets(
                    cur, sample_sql, sample_params, total, query.filters, scale=total / LARGE_RESULT
                )
            else:
                facets = self._facets(cur, source_sql, params, total, query.filters)
        return SearchResult(
            total=total,
            record_ids=ids,
            facets=facets,
            page=page,
            page_size=page_size,
            approximate_facets=large,
            truncated_query=parsed.truncated,
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
        from quietshelf.catalog.models import Branch

        counts: dict[str, dict[str, int]] = {
            "format": defaultdict(int),
            "language": defaultdict(int),
            "era": defaultdict(int),
            "available": defaultdict(int),
            "branch": defaultdict(int),
        }
        if not total:
            return self._facet_lists(counts, filters, {})
        cur.execute(
            "SELECT d.format, d.language, d.era, d.available, count(*) "  # noqa: S608
            f"{source_sql} GROUP BY d.format, d.language, d.era, d.available",
            params,
        )
        for fmt, lang, era, available, n in cur.fetchall():
            counts["format"][fmt] += n
            if lang:
                counts["language"][lang] += n
            if era:
                counts["era"][era] += n
            if available:
                counts["available"]["1"] += n
        cur.execute(
            "SELECT b.branch_id, count(*) FROM catalog_search_branch b WHERE b.record_id IN "  # noqa: S608
            f"(SELECT d.record_id {source_sql}) GROUP BY b.branch_id",
            params,
        )
        branch_counts = dict(cur.fetchall())
        found = Branch.objects.filter(id__in=list(branch_counts)).only("id", "code", "name")
        branches = {b.id: b for b in found}
        for branch_id, n in branch_counts.items():
            if branch_id in branches:
                counts["branch"][branches[branch_id].code] += n
        labels = {b.code: b.name for b in branches.values()}
        if scale != 1.0:
            for facet in counts.values():
                for key in facet:
                    facet[key] = max(1, round(facet[key] * scale))
        return self._facet_lists(counts, filters, labels)

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

    def table_keys(self):
        return [*super().table_keys(), ("catalog_search_fts", "rowid")]

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

    def unscored_source(self, parsed):
        return (
            "FROM (SELECT rowid AS id FROM catalog_search_fts WHERE catalog_search_fts MATCH %s) m "
            "JOIN catalog_search d ON d.record_id = m.id WHERE 1=1",
            [self.match_expression(parsed)],
        )

    def scored_source(self, parsed):
        source = (
            f"FROM (SELECT rowid AS id, {self.BM25} AS score "  # noqa: S608
            "FROM catalog_search_fts WHERE catalog_search_fts MATCH %s) m "
            "JOIN catalog_search d ON d.record_id = m.id WHERE 1=1"
        )
        return source, [self.match_expression(parsed)], "m.score", []

    def sample_source(self, parsed, filter_sql, filter_params, limit):
        # Newest first: FTS5 walks its doclists backwards cheaply; bm25 is
        # computed for the sampled rows only.
        sql = (
            "FROM (SELECT d.record_id, d.format, d.language, d.era, d.available, m.score "  # noqa: S608
            f"FROM (SELECT rowid AS id, {self.BM25} AS score FROM catalog_search_fts "
            "WHERE catalog_search_fts MATCH %s ORDER BY rowid DESC) m "
            f"JOIN catalog_search d ON d.record_id = m.id WHERE 1=1{filter_sql} "
            f"LIMIT {int(limit)}) d"
        )
        return sql, [self.match_expression(parsed), *filter_params]

    def count_matches(self, parsed, source_sql, params, filtered):
        if filtered or parsed.is_empty:
            return super().count_matches(parsed, source_sql, params, filtered)
        # Without filters the FTS table alone answers (no join per match).
        with connection.cursor() as cur:
            cur.execute(
                "SELECT count(*) FROM catalog_search_fts WHERE catalog_search_fts MATCH %s",
                [self.match_expression(parsed)],
            )
            return cur.fetchone()[0]


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

    def _insert(self, cur, docs):
        if not docs:
            return
        cur.executemany(
            "INSERT INTO catalog_search (record_id, format, language, year, era, available, "
            "sort_title, doc) VALUES (%s, %s, %s, %s, %s, %s, %s, %s::tsvector)",
            [
                (
                    d.record_id,
                    d.format,
                    d.language,
                    d.year,
                    d.era,
                    d.available,
                    d.sort_title,
                    self.tsvector_literal(d),
                )
                for d in docs
            ],
        )
        branch_rows = [
            (d.record_id, branch_id, avail) for d in docs for branch_id, avail in d.branches.items()
        ]
        if branch_rows:
            cur.executemany(
                "INSERT INTO catalog_search_branch (record_id, branch_id, available) "
                "VALUES (%s, %s, %s)",
                branch_rows,
            )

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

    def unscored_source(self, parsed):
        return "FROM catalog_search d WHERE d.doc @@ %s::tsquery", [self.tsquery_literal(parsed)]

    def scored_source(self, parsed):
        literal = self.tsquery_literal(parsed)
        source = "FROM catalog_search d WHERE d.doc @@ %s::tsquery"
        score = f"ts_rank_cd('{self.RANK_WEIGHTS}', d.doc, %s::tsquery) DESC"
        return source, [literal], score, [literal]

    def sample_source(self, parsed, filter_sql, filter_params, limit):
        literal = self.tsquery_literal(parsed)
        sql = (
            "FROM (SELECT d.record_id, d.format, d.language, d.era, d.available, "  # noqa: S608
            f"-ts_rank_cd('{self.RANK_WEIGHTS}', d.doc, %s::tsquery) AS score "
            f"FROM catalog_search d WHERE d.doc @@ %s::tsquery{filter_sql} LIMIT {int(limit)}) d"
        )
        return sql, [literal, literal, *filter_params]


def get_backend() -> Backend:
    if connection.vendor == "postgresql":
        return PostgresBackend()
    return SQLiteBackend()
