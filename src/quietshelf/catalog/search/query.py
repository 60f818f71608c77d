"""The user's search text turned into a small, safe query tree.

Nothing the user types reaches an engine's query syntax: the parser keeps only
words (runs of letters, digits and marks, see text.tokens), which the backends
then quote themselves. Operators, brackets, quotes, `NEAR(`, `--`, lone `*`
and unknown `field:` prefixes all end up as plain words or nothing
(SEC-SQL-1). The tree is capped so a pathological query stays cheap
(SEC-DOS-1): at most MAX_CLAUSES clauses and MAX_TOKENS words, and a prefix
needs at least MIN_PREFIX_CHARS characters (`a*` is the word "a").

Syntax: words (AND), "a phrase", prefix*, title:, author:, subject:, isbn:
(also the Norwegian tittel:, forfatter:, emne:), field:"a phrase".
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.conf import settings
from django.utils.translation import gettext as _
from stdnum import isbn as stdisbn
from stdnum import issn as stdissn

from quietshelf.catalog.search.text import tokens
from quietshelf.core.errors import InvalidInput

MAX_CLAUSES = 12
MAX_TOKENS = 24
MIN_PREFIX_CHARS = 2

FIELDS = {
    "title": "title",
    "ti": "title",
    "tittel": "title",
    "author": "author",
    "au": "author",
    "forfatter": "author",
    "subject": "subject",
    "su": "subject",
    "emne": "subject",
    "isbn": "isbn",
    "issn": "isbn",
}

_PIECE = re.compile(
    r"""(?:(?P<field>[^\W\d_]{2,10}):)?   # optional field name
        (?:"(?P<phrase>[^"]*)"?           # a quoted phrase (closing quote optional)
         |(?P<word>[^\s"]+))?             # or a bare word
    """,
    re.VERBOSE,
)
_IDENT_CHARS = re.compile(r"^[0-9Xx-]{8,17}$")


class QueryTooLong(InvalidInput):
    code = "query_too_long"


@dataclass(frozen=True)
class Clause:
    """Words that must all occur, in this order and adjacent when phrase is true."""

    words: tuple[str, ...]
    field: str | None = None  # None = any field
    phrase: bool = False
    prefix: bool = False  # the last word is a prefix


@dataclass(frozen=True)
class ParsedQuery:
    clauses: tuple[Clause, ...] = ()
    truncated: bool = False  # words beyond the caps were dropped (a long phrase cut short)

    @property
    def is_empty(self) -> bool:
        return not self.clauses


def identifier_token(raw: str) -> str | None:
    """An ISBN (10 or 13, any hyphens) or ISSN as the token the index holds."""
    compact = re.sub(r"[\s-]", "", raw).upper()
    if len(compact) in (10, 13) and stdisbn.is_valid(compact):
        return stdisbn.compact(stdisbn.to_isbn13(compact)).lower()
    if len(compact) == 8 and stdissn.is_valid(compact):
        return stdissn.compact(compact).lower()
    return None


def parse(text: str | None) -> ParsedQuery:
    """Parse user text; raises QueryTooLong over the configured size."""
    text = text or ""
    limit = settings.QUIETSHELF_SEARCH_MAX_QUERY_CHARS
    if len(text) > limit:
        raise QueryTooLong(
            _("The search is too long: at most %(limit)s characters, please.") % {"limit": limit}
        )
    clauses: list[Clause] = []
    used = 0
    truncated = False
    for match in _PIECE.finditer(text):
        if not match.group(0):
            continue
        field_name = (match.group("field") or "").lower()
        phrase_text = match.group("phrase")
        word = match.group("word")
        field_key = FIELDS.get(field_name)
        if field_name and field_key is None:
            # Not one of ours: the "field" is just another word.
            word = f"{field_name} {word or phrase_text or ''}"
            phrase_text = None
        clause = _clause(field_key, phrase_text, word)
        if clause is None:
            continue
        if len(clauses) >= MAX_CLAUSES:
            truncated = True
            break
        if used + len(clause.words) > MAX_TOKENS:
            # Keep what fits: an over-long phrase is cut to its first words,
            # never dropped (dropping it left an empty query = everything).
            room = MAX_TOKENS - used
            truncated = True
            if room > 0:
                kept = clause.words[:room]
                clauses.append(Clause(kept, clause.field, phrase=clause.phrase and len(kept) > 1))
            break
        used += len(clause.words)
        clauses.append(clause)
    return ParsedQuery(tuple(clauses), truncated)


def _clause(field_key: str | None, phrase_text: str | None, word: str | None) -> Clause | None:
    if phrase_text is not None:
        words = tokens(phrase_text)
        if field_key == "isbn":
            ident = identifier_token(phrase_text)
            words = [ident] if ident else ["".join(words)] if words else []
        if not words:
            return None
        return Clause(tuple(words), field_key, phrase=len(words) > 1)
    if not word:
        return None
    if field_key == "isbn" or (field_key is None and _IDENT_CHARS.match(word)):
        ident = identifier_token(word)
        if ident:
            return Clause((ident,), "isbn" if field_key == "isbn" else None)
        if field_key == "isbn":
            joined = "".join(tokens(word))
            return Clause((joined,), "isbn") if joined else None
    prefix = word.endswith("*")
    words = tokens(word)
    if not words:
        return None
    if prefix and len(words[-1]) < MIN_PREFIX_CHARS:
        prefix = False
    return Clause(tuple(words), field_key, phrase=len(words) > 1, prefix=prefix)
