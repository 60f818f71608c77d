"""The privacy office's retention steps (PRV-RET-1), registered with the kernel.

What the office records is kept for the privacy-case rule after the matter is
over, then deleted: request cases after they are closed, government requests
(with their disclosure log) after they are decided, breach incidents after
they are closed. A lifted restriction goes with the patron-account rule; an
old canary statement with the audit-log rule (the newest one always stays:
it is what /privacy/canary shows). Anything naming a subject under a legal
hold stays.
"""

from __future__ import annotations

from django.db.models import Q

from quietshelf.privacy.retention import Context, Step, ids_batch, register_step
from quietshelf.privacyoffice.models import (
    BreachIncident,
    CanaryStatement,
    DisclosureEntry,
    GovernmentRequest,
    ProcessingRestriction,
    RequestCase,
)


def _not_held(qs, ctx: Context):
    return qs.exclude(subject_id__in=ctx.held_subjects()) if ctx.held_subject_ids else qs


def _cases(ctx: Context):
    return _not_held(RequestCase.objects.filter(closed_at__lt=ctx.cutoff), ctx)


def _government(ctx: Context):
    decided = GovernmentRequest.objects.filter(decided_at__lt=ctx.cutoff).exclude(status="received")
    # a patron still owed the notice of a disclosure keeps the record until told
    decided = decided.exclude(Q(notify_due_on__isnull=False) & Q(patron_notified_on__isnull=True))
    return _not_held(decided, ctx)


def _breaches(ctx: Context):
    return BreachIncident.objects.filter(status="closed", created_at__lt=ctx.cutoff)


def _restrictions(ctx: Context):
    return ProcessingRestriction.objects.filter(lifted_at__lt=ctx.cutoff)


def _canaries(ctx: Context):
    newest = CanaryStatement.objects.order_by("-signed_at", "-id").values("pk")[:1]
    return CanaryStatement.objects.filter(valid_until__lt=ctx.cutoff.date()).exclude(pk__in=newest)


def _delete(qs_for):
    def batch(ctx: Context) -> int:
        ids = ids_batch(qs_for(ctx), ctx)
        if not ids:
            return 0
        return qs_for(ctx).model.objects.filter(pk__in=ids).delete()[0]

    return batch


def _government_batch(ctx: Context) -> int:
    ids = ids_batch(_government(ctx), ctx)
    if not ids:
        return 0
    # the disclosure log protects its request: it goes first, in the same transaction
    DisclosureEntry.objects.filter(request_id__in=ids).delete()
    return GovernmentRequest.objects.filter(pk__in=ids).delete()[0]


def install() -> None:
    for key, rule, why, models, qs_for, batch, order in [
        ("closed privacy requests", "privacy_case",
         "closed for longer than the privacy-case rule",
         ("privacyoffice.RequestCase",), _cases, _delete(_cases), 60),
        ("decided government requests", "privacy_case",
         "decided (and the patron told, where due) longer ago than the privacy-case rule",
         ("privacyoffice.GovernmentRequest", "privacyoffice.DisclosureEntry"),
         _government, _government_batch, 61),
        ("closed breach incidents", "privacy_case",
         "closed for longer than the privacy-case rule",
         ("privacyoffice.BreachIncident",), _breaches, _delete(_breaches), 62),
        ("lifted restrictions", "patron_account",
         "lifted longer ago than the patron-account rule",
         ("privacyoffice.ProcessingRestriction",), _restrictions, _delete(_restrictions), 63),
        ("old canary statements", "audit_log",
         "lapsed longer ago than the audit-log rule (the newest is kept)",
         ("privacyoffice.CanaryStatement",), _canaries, _delete(_canaries), 64),
    ]:  # fmt: skip
        register_step(
            Step(
                key=key,
                rule=rule,
                action="deleted",
                why=why,
                models=models,
                count=lambda ctx, qs_for=qs_for: {"due": qs_for(ctx).count()},
                batch=batch,
                order=order,
            )
        )
