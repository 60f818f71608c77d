"""A CQL tree run on the public catalogue's search backend (the OPAC's engine).

Each search clause becomes the backend's own match for the catalogue's
parsed-query clause (words only, quoted by the backend), or a parameterised
comparison on the search table (dates, record ids); and / or / not become
INTERSECT / UNION / EXCEPT of those id sets. No user text is ever put into
SQL: every value is a parameter (SEC-SQL-1). The public search's time limit
applies (SEC-DOS-1).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.db import connection

from quietshelf.catalog.search.backends import MAX_OFFSET, get_backend, time_limit
from quietshelf.catalog.search.query import (
    MAX_TOKENS,
    MIN_PREFIX_CHARS,
    Clause,
    ParsedQuery,
    identifier_token,
)
from quietshelf.catalog.search.text import tokens
from quietshelf.core.errors import InvalidInput
from quietshelf.interop.sru.cql import Boolean, Query, Search
from quietshelf.interop.sru.diagnostics import Diagnostic

# index name (context set optional) -> what it searches
INDEXES = {
    "cql.anywhere": "any",
    "cql.serverchoice": "any",
    "cql.keywords": "any",
    "anywhere": "any",
    "serverchoice": "any",
    "keywords": "any",
    "dc.title": "title",
    "bath.title": "title",
    "title": "title",
    "dc.creator": "author",
    "dc.contributor": "author",
    "bath.author": "author",
    "bath.name": "author",
    "creator": "author",
    "author": "author",
    "dc.subject": "subject",
    "bath.subject": "subject",
    "subject": "subject",
    "dc.identifier": "ident",
    "bath.isbn": "ident",
    "bath.issn": "ident",
    "bath.standardidentifier": "ident",
    "identifier": "ident",
    "isbn": "ident",
    "issn": "ident",
    "dc.date": "date",
    "date": "date",
    "rec.id": "id",
}
TEXT_RELATIONS = {"=", "==", "all", "any", "adj", "exact", "cql.all", "cql.any", "cql.adj"}
DATE_RELATIONS = {"=": "=", "==": "=", "<": "<", ">": ">", "<=": "<=", ">=": ">=", "<>": "<>"}
SORT_COLUMNS = {"title": "d.sort_title", "date": "d.year"}
_FIELD = {"any": None, "title": "title", "author": "author", "subject": "subject", "ident": "isbn"}
_YEAR = re.compile(r"^(\d{1,4})(-\d{2}(-\d{2})?)?$")


@dataclass
class Hits:
    total: int
    record_ids: list[int]


class _Compiler:
    def __init__(self):
        self.backend = get_backend()
        self.n = 0

    def alias(self) -> str:
        self.n += 1
        return f"q{self.n}"

    def node(self, node) -> tuple[str, list]:
        if isinstance(node, Boolean) and node.op == "and":
            # Word searches joined by and are one match in the engine (one
            # FTS MATCH / one tsquery), not an INTERSECT of two (PERF-OAI-1).
            merged = self.word_clauses(node)
            if merged is not None:
                return self.backend.match_ids(ParsedQuery(tuple(merged)), "", [])
        if isinstance(node, Boolean):
            left, lp = self.node(node.left)
            right, rp = self.node(node.right)
            op = {"and": "INTERSECT", "or": "UNION", "not": "EXCEPT"}[node.op]
            sql = (
                f"SELECT id FROM ({left}) {self.alias()} {op} "  # noqa: S608
                f"SELECT id FROM ({right}) {self.alias()}"
            )  # only id sets built here and fixed keywords; values are parameters
            return sql, lp + rp
        return self.search(node)

    def word_clauses(self, node) -> list[Clause] | None:
        """The backend clauses of an and-tree of word searches; None if it is not one."""
        if isinstance(node, Boolean):
            if node.op != "and":
                return None
            left = self.word_clauses(node.left)
            right = self.word_clauses(node.right) if left is not None else None
            return None if right is None else left + right
        kind = INDEXES.get(node.index)
        if kind in (None, "date", "id") or node.modifiers or node.relation not in TEXT_RELATIONS:
            return None
        relation = node.relation.removeprefix("cql.")
        clauses = self.clauses(kind, relation, node.term)
        if relation == "any" and len(clauses) > 1:
            return None
        return clauses

    def search(self, s: Search) -> tuple[str, list]:
        kind = INDEXES.get(s.index)
        if kind is None:
            raise Diagnostic(16, s.index)
        if s.modifiers:
            raise Diagnostic(20, "/".join(s.modifiers))
        if kind == "date":
            return self.date(s)
        if kind == "id":
            if s.relation not in ("=", "=="):
                raise Diagnostic(19, s.relation)
            if not s.term.strip().isdigit() or len(s.term.strip()) > 18:
                raise Diagnostic(36, s.term)
            return "SELECT d.record_id AS id FROM catalog_search d WHERE d.record_id = %s", [
                int(s.term.strip())
            ]
        if s.relation not in TEXT_RELATIONS:
            raise Diagnostic(19, s.relation)
        relation = s.relation.removeprefix("cql.")
        clauses = self.clauses(kind, relation, s.term)
        if relation == "any" and len(clauses) > 1:
            parts, params = [], []
            for clause in clauses:
                sql, p = self.backend.match_ids(ParsedQuery((clause,)), "", [])
                parts.append(f"SELECT id FROM ({sql}) {self.alias()}")  # noqa: S608
                params += p
            return " UNION ".join(parts), params
        return self.backend.match_ids(ParsedQuery(tuple(clauses)), "", [])

    def clauses(self, kind: str, relation: str, term: str) -> list[Clause]:
        field = _FIELD[kind]
        if not term.strip():
            raise Diagnostic(27)
        if kind == "ident":
            ident = identifier_token(term)
            if ident:
                return [Clause((ident,), "isbn")]
            compact = "".join(tokens(term))
            if not compact:
                raise Diagnostic(36, term)
            return [Clause((compact,), "isbn")]
        words_raw = term.split()
        if len(words_raw) > MAX_TOKENS:
            raise Diagnostic(23, str(MAX_TOKENS), "Too many words in term")
        out: list[Clause] = []
        for raw in words_raw:
            body = raw.replace("\\*", "").replace("\\?", "")
            prefix = body.endswith("*")
            if "?" in body or "*" in body.rstrip("*") or body.count("*") > 1:
                raise Diagnostic(28, raw)
            words = tokens(body)
            if prefix and words and len(words[-1]) < MIN_PREFIX_CHARS:
                raise Diagnostic(28, raw, "Masked words too short")
            for i, w in enumerate(words):
                last = i == len(words) - 1
                out.append(Clause((w,), field, prefix=prefix and last))
        if not out:
            raise Diagnostic(27, term)
        if relation in ("adj", "==", "exact") and len(out) > 1:
            if any(c.prefix for c in out[:-1]):
                raise Diagnostic(28, term)
            return [
                Clause(tuple(c.words[0] for c in out), field, phrase=True, prefix=out[-1].prefix)
            ]
        return out

    def date(self, s: Search) -> tuple[str, list]:
        op = DATE_RELATIONS.get(s.relation)
        if op is None:
            raise Diagnostic(19, s.relation)
        match = _YEAR.match(s.term.strip())
        if not match:
            raise Diagnostic(36, s.term)
        return (
            # op comes from DATE_RELATIONS (fixed operators); the year is a parameter
            f"SELECT d.record_id AS id FROM catalog_search d WHERE d.year {op} %s",  # noqa: S608
            [int(match.group(1))],
        )


def run(query: Query, *, offset: int, limit: int, sort: list[tuple[str, bool]]) -> Hits:
    """The total and one page of record ids; sort: [(title|date, descending)]."""
    compiler = _Compiler()
    sql, params = compiler.node(query.root)
    order = []
    for key, descending in sort:
        column = SORT_COLUMNS[key]
        direction = "DESC" if descending else "ASC"
        if key == "date":
            order.append(f"{column} IS NULL")
        order.append(f"{column} {direction}")
    order.append("d.record_id")
    try:
        with time_limit(), connection.cursor() as cur:
            cur.execute(f"SELECT count(*) FROM ({sql}) r", params)  # noqa: S608
            total = cur.fetchone()[0]
            ids: list[int] = []
            if limit > 0 and offset < total and offset <= MAX_OFFSET:
                cur.execute(
                    f"SELECT d.record_id FROM ({sql}) r "  # noqa: S608
                    "JOIN catalog_search d ON d.record_id = r.id "
                    f"ORDER BY {', '.join(order)} LIMIT %s OFFSET %s",
                    [*params, limit, offset],
                )
                ids = [row[0] for row in cur.fetchall()]
    except InvalidInput as exc:  # the public search's time limit
        raise Diagnostic(47, "", exc.message) from None
    return Hits(total, ids)
