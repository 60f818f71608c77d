"""My account's privacy requests (/account/privacy/): erasure and correction.

Erasure is asked for here and carried out by the privacy office: the page
shows the exceptions first, in plain words, and asks for the password again.
"""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from quietshelf.core.errors import DomainError
from quietshelf.core.netutil import client_ip
from quietshelf.patrons.auth import patron_required
from quietshelf.portal import services as portal_services
from quietshelf.privacy.audit import Actor
from quietshelf.privacyoffice import forms, selectors, services
from quietshelf.privacyoffice.models import CaseKind


@patron_required
def requests(request):
    return render(
        request,
        "privacyoffice/account_requests.html",
        {"cases": selectors.own_cases(patron_id=request.patron.pk)},
    )


@patron_required
@require_http_methods(["GET", "POST"])
def erase_request(request):
    patron = request.patron
    open_case = selectors.own_open_case(patron_id=patron.pk, kind=CaseKind.ERASURE)
    form = forms.PatronEraseRequestForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                # SEC-AUTH-1: the password again (with the portal's lockout), then the case.
                portal_services.patron_reauthenticate(
                    patron=patron, password=form.cleaned_data["password"], ip=client_ip(request)
                )
                services.erasure_request_by_patron(
                    patron_id=patron.pk, details=form.cleaned_data["details"]
                )
            except DomainError as exc:
                form.add_error(None, exc.message)
                status = exc.status_hint if exc.status_hint != 404 else 400
            else:
                messages.success(
                    request,
                    _("Your request is sent. The library answers within the legal deadline."),
                )
                return redirect("account_privacy:requests")
        else:
            status = 400
    preview = selectors.erasure_preview(actor=Actor.patron(patron.pk), patron_id=patron.pk)
    return render(
        request,
        "privacyoffice/account_erase.html",
        {"form": form, "preview": preview, "open_case": open_case},
        status=status,
    )


@patron_required
@require_http_methods(["GET", "POST"])
def correct_request(request):
    form = forms.RectificationForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                services.rectification_request_by_patron(
                    patron_id=request.patron.pk, details=form.cleaned_data["details"]
                )
            except DomainError as exc:
                form.add_error(None, exc.message)
                status = exc.status_hint
            else:
                messages.success(request, _("Your request is sent to the library."))
                return redirect("account_privacy:requests")
        else:
            status = 400
    return render(request, "privacyoffice/account_correct.html", {"form": form}, status=status)


@patron_required
def guardian(request):
    """PRV-MNR-1: a guardian's view of the minors they are linked to, as the rule allows."""
    view = selectors.guardian_view(guardian_id=request.patron.pk)
    return render(request, "privacyoffice/account_guardian.html", {"view": view})
