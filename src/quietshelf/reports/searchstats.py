"""Search statistics in aggregate only (PRV-SEP-1).

`count_search` is called by the public catalogue after each new search
(catalog.search.on_public_search, registered in apps.ready): it adds one to
the day's count, and for a search that found nothing, one to the day's count
of that normalised text. Nothing about who searched, from where or when in
the day is kept, and nothing here can be joined with circulation.
"""

from __future__ import annotations

import datetime as dt
import re

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F

from quietshelf.core import clock
from quietshelf.reports.models import SearchDailyCount, ZeroResultTerm

_SPACES = re.compile(r"\s+")


def normalise_term(text: str) -> str:
    """Lower case, single spaces, at most 100 characters ('Ibsen  Gengangere' -> 'ibsen
    gengangere')."""
    return _SPACES.sub(" ", (text or "").strip().lower())[:100]


def _terms_days() -> int:
    return max(1, int(getattr(settings, "QUIETSHELF_SEARCH_TERMS_DAYS", 90) or 90))


def _bump(model, lookup: dict, **fields) -> bool:
    """Add to a counter row, creating it if needed; True when it was created."""
    updates = {name: F(name) + value for name, value in fields.items()}
    if model.objects.filter(**lookup).update(**updates):
        return False
    try:
        with transaction.atomic():
            model.objects.create(**lookup, **fields)
        return True
    except IntegrityError:  # another request made it first
        model.objects.filter(**lookup).update(**updates)
        return False


def count_search(query, result) -> None:
    """One public search, counted (called outside the search itself; own transaction)."""
    day = clock.today()
    zero = int(result.total == 0)
    with transaction.atomic():
        created = _bump(SearchDailyCount, {"day": day}, searches=1, zero_results=zero)
        term = normalise_term(getattr(query, "text", ""))
        if zero and term:
            _bump(ZeroResultTerm, {"day": day, "term": term}, count=1)
        if created:  # once a day: the terms kept longer than their retention go
            cutoff = day - dt.timedelta(days=_terms_days())
            ZeroResultTerm.objects.filter(day__lt=cutoff).delete()
