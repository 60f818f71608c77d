"""SIP2's retention step: failed terminal logins and PINs go after the sign-in-failure rule.

They are kept only to count lock-outs (keyed digests, never a card number or
an address), so they go as the patron portal's own sign-in failures do.
"""

from __future__ import annotations

from quietshelf.privacy.retention import Context, Step, ids_batch, register_step
from quietshelf.sip2.models import Sip2Failure


def _old(ctx: Context):
    return Sip2Failure.objects.filter(at__lt=ctx.cutoff)


def _batch(ctx: Context) -> int:
    ids = ids_batch(_old(ctx), ctx)
    return Sip2Failure.objects.filter(pk__in=ids).delete()[0] if ids else 0


def install() -> None:
    register_step(
        Step(
            key="SIP2 sign-in failures",
            rule="sign_in_failure",
            action="deleted",
            why="a failed terminal login or PIN older than the sign-in-failure rule",
            models=("sip2.Sip2Failure",),
            count=lambda ctx: {"due": _old(ctx).count()},
            batch=_batch,
            order=16,
        )
    )
