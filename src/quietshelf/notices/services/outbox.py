"""Staff: the outbox (a failed or undeliverable notice sent again)."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction

from quietshelf.accounts.authz import branch_scope, require
from quietshelf.core import clock
from quietshelf.core.errors import Conflict, NotFound
from quietshelf.notices.models import (
    Notice,
    NoticeState,
)
from quietshelf.privacy import audit


@transaction.atomic(durable=True)
def notice_retry(*, actor, notice_id) -> Notice:
    """Put a failed or undeliverable notice back in the queue (after fixing a contact point)."""
    try:
        # the patron is an outer join now (a staff notice has none): lock the notice only
        notice = (
            Notice.objects.select_for_update(of=("self",))
            .select_related("patron")
            .get(pk=notice_id)
        )
    except (Notice.DoesNotExist, ValueError, TypeError, ValidationError):
        raise NotFound("No such notice.") from None
    # a staff notice (scheduled report) belongs to no branch: library-wide outbox only
    branch_id = notice.patron.home_branch_id if notice.patron_id else None
    require(actor, "notices.view_outbox", branch_id=branch_id)
    scope = branch_scope(actor, "notices.view_outbox")
    if scope is not None and (branch_id is None or branch_id not in scope):
        raise NotFound("No such notice.")
    if notice.state not in (NoticeState.FAILED, NoticeState.UNDELIVERABLE):
        raise Conflict("Only failed or undeliverable notices can be retried.", code="not_failed")
    if notice.counted:
        raise Conflict("This notice is too old to send again.", code="notice_reduced")
    notice.state = NoticeState.QUEUED
    notice.attempts = 0
    notice.next_attempt_at = clock.now()
    notice.last_error = ""
    notice.save(update_fields=["state", "attempts", "next_attempt_at", "last_error"])
    audit.record(actor=actor, action="changed", obj=notice, reason="notice_retry")
    return notice
