"""Reads for the notice pages (authorisation and branch scope applied here)."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Count
from django.utils.translation import gettext_lazy as _

from quietshelf.accounts.authz import branch_scope, require
from quietshelf.notices import defaults
from quietshelf.notices.models import Channel, Notice, NoticeState, NoticeTemplate, NoticeType

PROBLEM_STATES = (NoticeState.FAILED, NoticeState.UNDELIVERABLE)


@dataclass(frozen=True)
class Outbox:
    counts: dict
    problems: list  # Notice rows (no content read: ids, types, states, errors only)


def outbox(*, actor, limit: int = 200) -> Outbox:
    """Counts by state and the failed and undeliverable notices (never an address)."""
    require(actor, "notices.view_outbox")
    qs = Notice.objects.filter(counted=False)
    scope = branch_scope(actor, "notices.view_outbox")
    if scope is not None:
        qs = qs.filter(patron__home_branch_id__in=scope)
    counts = {s: 0 for s in NoticeState.values}
    for row in qs.values("state").annotate(n=Count("pk")):
        counts[row["state"]] = row["n"]
    waiting = qs.filter(state=NoticeState.QUEUED, attempts__gt=0)
    problems = list(
        qs.filter(state__in=PROBLEM_STATES)
        .only(
            "pk",
            "patron_id",
            "notice_type",
            "level",
            "state",
            "channel",
            "attempts",
            "last_error",
            "created_at",
            "next_attempt_at",
        )
        .order_by("-created_at")[:limit]
    )
    retrying = list(
        waiting.only(
            "pk",
            "patron_id",
            "notice_type",
            "level",
            "state",
            "channel",
            "attempts",
            "last_error",
            "created_at",
            "next_attempt_at",
        ).order_by("next_attempt_at")[:limit]
    )
    return Outbox(counts=counts, problems=problems + retrying)


# NoticeLanguage's labels are each language's own name; staff read them in their own language
LANGUAGE_LABELS = {"en": _("English"), "nb": _("Norwegian Bokmål")}


def template_labels(notice_type: str, language: str, channel: str) -> dict:
    """Translated labels of a template's key; ValueError for an unknown code."""
    if language not in LANGUAGE_LABELS:
        raise ValueError(language)
    return {
        "type_label": NoticeType(notice_type).label,
        "language_label": LANGUAGE_LABELS[language],
        "channel_label": Channel(channel).label,
    }


@dataclass(frozen=True)
class TemplateRow:
    notice_type: str
    language: str
    channel: str
    customised: bool

    @property
    def labels(self) -> dict:
        return template_labels(self.notice_type, self.language, self.channel)


def templates(*, actor) -> list[TemplateRow]:
    require(actor, "notices.manage_templates")
    custom = set(NoticeTemplate.objects.values_list("notice_type", "language", "channel"))
    return [TemplateRow(*key, key in custom) for key in defaults.DEFAULTS]


def template_text(*, actor, notice_type: str, language: str, channel: str) -> tuple[str, str, bool]:
    """(subject, body, customised) of one template; NotFound-style KeyError for unknown keys."""
    require(actor, "notices.manage_templates")
    key = (notice_type, language, channel)
    if key not in defaults.DEFAULTS:
        from quietshelf.core.errors import NotFound

        raise NotFound("No such notice template.")
    row = NoticeTemplate.objects.filter(
        notice_type=notice_type, language=language, channel=channel
    ).first()
    if row is not None:
        return row.subject, row.body, True
    subject, body = defaults.DEFAULTS[key]
    return subject, body, False


def patron_history(*, patron_id) -> list[Notice]:
    """The notices kept for the signed-in patron (only with the history consent)."""
    return list(
        Notice.objects.filter(
            patron_id=patron_id, kept=True, state=NoticeState.SENT, counted=False
        ).order_by("-sent_at")[:200]
    )
