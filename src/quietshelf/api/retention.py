"""The API's retention step: revoked tokens go after the api_token rule (PRV-RET-1)."""

from __future__ import annotations

from django.db.models import Q

from quietshelf.api.models import ApiToken
from quietshelf.privacy.retention import Context, Step, ids_batch, register_step


def _revoked(ctx: Context):
    # a token keeps only days (created, last used): the later of them counts
    day = ctx.cutoff.date()
    return ApiToken.objects.filter(revoked=True).filter(
        Q(last_used__lt=day) | Q(last_used__isnull=True, created__lt=day)
    )


def _batch(ctx: Context) -> int:
    ids = ids_batch(_revoked(ctx), ctx)
    return ApiToken.objects.filter(pk__in=ids).delete()[0] if ids else 0


def install() -> None:
    register_step(
        Step(
            key="revoked API tokens",
            rule="api_token",
            action="deleted",
            why="revoked, and unused for longer than the API-token rule",
            models=("api.ApiToken",),
            count=lambda ctx: {"due": _revoked(ctx).count()},
            batch=_batch,
            order=15,
        )
    )
