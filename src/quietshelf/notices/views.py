"""Notice pages: the staff outbox and template editor, the patron's kept notices.

Thin: one service or selector each; domain errors become form errors or
messages. The outbox shows ids, types, states and error kinds, never an
address or a notice's text; a patron is reached through the patron page.
"""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from quietshelf.accounts.decorators import staff_page
from quietshelf.core.errors import DomainError, NotFound, PermissionDenied
from quietshelf.notices import sandbox, selectors, services
from quietshelf.notices.forms import TemplateForm
from quietshelf.patrons.auth import patron_required
from quietshelf.privacy import consent


@staff_page
@require_GET
def outbox(request):
    box = selectors.outbox(actor=request.user)
    return render(request, "notices/outbox.html", {"box": box})


@staff_page
@require_POST
def retry(request, notice_id):
    try:
        services.notice_retry(actor=request.user, notice_id=notice_id)
    except (NotFound, PermissionDenied):
        raise
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("The notice is back in the queue."))
    return redirect("staff_notices:outbox")


@staff_page
@require_GET
def template_list(request):
    rows = selectors.templates(actor=request.user)
    return render(request, "notices/templates.html", {"rows": rows})


def _labels(notice_type, language, channel) -> dict:
    try:
        return selectors.template_labels(notice_type, language, channel)
    except ValueError:
        raise Http404 from None


@staff_page
@require_http_methods(["GET", "POST"])
def template_edit(request, notice_type, language, channel):
    labels = _labels(notice_type, language, channel)
    subject, body, customised = selectors.template_text(
        actor=request.user, notice_type=notice_type, language=language, channel=channel
    )
    preview = None
    key = {"notice_type": notice_type, "language": language, "channel": channel}
    if request.method == "POST":
        action = request.POST.get("action", "save")
        if action == "reset":
            services.template_reset(actor=request.user, **key)
            messages.success(request, _("The built-in text is used again."))
            return redirect("staff_notices:template_edit", **key)
        form = TemplateForm(
            request.POST, notice_type=notice_type, language=language, channel=channel
        )
        if form.is_valid():
            data = {
                "subject": form.cleaned_data.get("subject", ""),
                "body": form.cleaned_data["body"],
            }
            try:
                if action == "preview":
                    preview = services.template_preview(**key, **data)
                else:
                    services.template_save(actor=request.user, **key, **data)
                    messages.success(request, _("Template saved."))
                    return redirect("staff_notices:template_edit", **key)
            except PermissionDenied:
                raise
            except DomainError as exc:
                field = exc.details.get("field")
                form.add_error(field if field in form.fields else None, exc.message)
    else:
        form = TemplateForm(
            initial={"subject": subject, "body": body},
            notice_type=notice_type,
            language=language,
            channel=channel,
        )
    return render(
        request,
        "notices/template_edit.html",
        {
            "form": form,
            "preview": preview,
            "customised": customised,
            "variables": services.defaults.variables_for(notice_type),
            "limit": sandbox.limit_for(channel),
            **key,
            **labels,
        },
    )


@patron_required
@require_GET
def account_history(request):
    patron = request.patron
    kept = consent.has_consent(subject_id=patron.subject_id, scope=services.HISTORY_SCOPE)
    notices = selectors.patron_history(patron_id=patron.pk) if kept else []
    return render(request, "notices/account_history.html", {"kept": kept, "notices": notices})
