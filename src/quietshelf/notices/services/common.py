"""What the notice use cases share: the consent scopes, who may get notices, slicing."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable

from django.utils import timezone

log = logging.getLogger("quietshelf.notices")

TITLES_SCOPE = "notice_titles"
HISTORY_SCOPE = "notification_history"
CHUNK = 1000
# A restricted patron (PRV-DSR-5: data kept, not used) gets no notices; only a privacy
# notice (for example that the restriction will be lifted) may reach them.
NOTIFIABLE = ("active",)
PRIVACY_NOTIFIABLE = ("active", "restricted")


def _start_of(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time()))


def _chunks(items: list, size: int = CHUNK) -> Iterable[list]:
    for i in range(0, len(items), size):
        yield items[i : i + size]
