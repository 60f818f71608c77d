"""The patron portal's retention steps: password links and sign-in failures (PRV-RET-1)."""

from __future__ import annotations

from quietshelf.portal.models import PasswordLink, SignInFailure
from quietshelf.privacy.retention import Context, Step, ids_batch, register_step


def _links(ctx: Context):
    return PasswordLink.objects.filter(created_at__lt=ctx.cutoff)


def _failures(ctx: Context):
    return SignInFailure.objects.filter(at__lt=ctx.cutoff)


def _deleter(query):
    def batch(ctx: Context) -> int:
        ids = ids_batch(query(ctx), ctx)
        return query(ctx).model.objects.filter(pk__in=ids).delete()[0] if ids else 0

    return batch


def install() -> None:
    register_step(
        Step(
            key="password links",
            rule="password_link",
            action="deleted",
            why="a password link sent longer ago than the password-link rule",
            models=("patron_portal.PasswordLink",),
            count=lambda ctx: {"due": _links(ctx).count()},
            batch=_deleter(_links),
            order=13,
        )
    )
    register_step(
        Step(
            key="patron sign-in failures",
            rule="sign_in_failure",
            action="deleted",
            why="a failed patron sign-in older than the sign-in-failure rule",
            models=("patron_portal.SignInFailure",),
            count=lambda ctx: {"due": _failures(ctx).count()},
            batch=_deleter(_failures),
            order=14,
        )
    )
