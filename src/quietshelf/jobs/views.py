"""The staff jobs page at /staff/jobs/: schedule, last runs, failures, queue, run now, retry.

Seeing it needs jobs.view_jobs; the buttons (POST, CSRF) need jobs.run_jobs.
Thin: one selector to show, one service per button, domain errors as messages.
"""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from quietshelf.accounts.authz import has_perm
from quietshelf.accounts.decorators import staff_page
from quietshelf.core.errors import DomainError, PermissionDenied
from quietshelf.jobs import selectors, services


@staff_page(perm="jobs.view_jobs")
@require_GET
def overview(request):
    data = selectors.overview(actor=request.user)
    return render(
        request,
        "jobs/overview.html",
        {"data": data, "can_run": has_perm(request.user, "jobs.run_jobs")},
    )


@staff_page(perm="jobs.view_jobs")
@require_POST
def run_now(request):
    try:
        run = services.run_now(actor=request.user, job=request.POST.get("job", ""))
    except PermissionDenied:
        raise
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request, _("%(job)s is queued; a worker runs it shortly.") % {"job": run.job}
        )
    return redirect("staff_jobs:overview")


@staff_page(perm="jobs.view_jobs")
@require_POST
def retry(request):
    try:
        run = services.retry_run(actor=request.user, run_id=request.POST.get("run", ""))
    except PermissionDenied:
        raise
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request,
            _("%(job)s %(slot)s is queued again (attempt %(attempt)d).")
            % {"job": run.job, "slot": run.slot, "attempt": run.attempt},
        )
    return redirect("staff_jobs:overview")
