"""Name search without names: blind-indexed tokens and prefixes in a side table.

`index_name_tokens(subject_id=..., scope="patron.name", text="Ada Lovelace")`
replaces the subject's tokens in that scope with HMACs of each normalised
word ("ada", "lovelace") and of each word's prefixes from
MIN_PREFIX characters up to MAX_PREFIX ("ad", "ada", "lo", "lov", …).
`search_name_tokens(scope=..., query="ada lov")` returns the subject ids
whose tokens match every query word: whole words exactly, the last word as
a prefix. What this reveals is set out in docs/privacy-model.md.
"""

from __future__ import annotations

import hmac
import uuid

from django.db import transaction

from quietshelf.privacy import keys
from quietshelf.privacy.fields import normalize
from quietshelf.privacy.models import NameToken

MIN_PREFIX = 2
MAX_PREFIX = 6
MAX_TOKENS = 12


def _words(text: str) -> list[str]:
    norm = normalize(text, "name")
    words = []
    for raw in norm.replace("-", " ").replace("'", " ").split():
        word = "".join(ch for ch in raw if ch.isalnum())
        if word and word not in words:
            words.append(word)
    return words[:MAX_TOKENS]


def _digest(scope: str, kind: str, value: str) -> str:
    key = keys.index_key(f"name-token|{scope}")
    # hmac.digest: the same HMAC-SHA256 as hmac.new(...).hexdigest(), in one C call
    return hmac.digest(key, f"{kind}|{value}".encode(), "sha256").hex()[:32]


def token_digests(scope: str, text: str) -> set[str]:
    out = set()
    for word in _words(text):
        out.add(_digest(scope, "w", word))
        for n in range(MIN_PREFIX, min(len(word), MAX_PREFIX) + 1):
            out.add(_digest(scope, "p", word[:n]))
    return out


@transaction.atomic
def index_name_tokens(*, subject_id: uuid.UUID, scope: str, text: str) -> int:
    NameToken.objects.filter(subject_id=subject_id, scope=scope).delete()
    rows = [
        NameToken(subject_id=subject_id, scope=scope, digest=d)
        for d in sorted(token_digests(scope, text))
    ]
    NameToken.objects.bulk_create(rows)
    return len(rows)


def search_name_tokens(*, scope: str, query: str, limit: int = 200) -> list[uuid.UUID]:
    words = _words(query)
    if not words:
        return []
    wanted = []
    for i, word in enumerate(words):
        last = i == len(words) - 1
        if last and len(word) < MIN_PREFIX:
            continue
        if last:
            wanted.append(_digest(scope, "p", word[:MAX_PREFIX]) if len(word) >= MIN_PREFIX else "")
        else:
            wanted.append(_digest(scope, "w", word))
    wanted = [w for w in wanted if w]
    if not wanted:
        return []
    result: set[uuid.UUID] | None = None
    for digest in wanted:
        ids = set(
            NameToken.objects.filter(scope=scope, digest=digest).values_list(
                "subject_id", flat=True
            )[: limit * 50]
        )
        result = ids if result is None else result & ids
        if not result:
            return []
    return sorted(result)[:limit]
