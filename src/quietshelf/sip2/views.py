"""The staff page for SIP2 terminal accounts at /staff/sip2/ (docs/sip2.md).

Needs "accounts.manage_staff" (the branch scope applies through the services).
Thin: a form shapes the input, one service does the work, domain errors
become form errors. A new password is shown once, in the response to the
POST that made it, never stored in clear or put in a message or URL.
"""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from quietshelf.accounts.decorators import staff_page
from quietshelf.core.errors import DomainError, PermissionDenied
from quietshelf.sip2 import forms, services

MANAGE = services.MANAGE


@staff_page(perm=MANAGE)
@require_http_methods(["GET", "POST"])
def terminals(request):
    form = forms.NewTerminalForm(
        request.POST or None, initial={"allowed_messages": list(services.GRANTABLE)}
    )
    status, created = 200, None
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            terminal, password = services.terminal_create(
                actor=request.user,
                name=data["name"],
                branch=data["branch"],
                allowed_messages=data["allowed_messages"],
                patron_name=data["patron_name"],
                send_titles=data["send_titles"],
                require_pin=data["require_pin"],
                institution_id=data["institution_id"],
            )
        except PermissionDenied:
            raise
        except DomainError as exc:
            form.add_error(None, _(exc.message))
            status = 400
        else:
            created = {"terminal": terminal, "password": password}
            form = forms.NewTerminalForm(initial={"allowed_messages": list(services.GRANTABLE)})
    elif request.method == "POST":
        status = 400
    return render(
        request,
        "sip2/terminals.html",
        {
            "terminals": services.terminal_list(actor=request.user),
            "form": form,
            "created": created,
        },
        status=status,
    )


@staff_page(perm=MANAGE)
@require_http_methods(["GET", "POST"])
def terminal(request, terminal_id: int):
    current = services.terminal_get(actor=request.user, terminal_id=terminal_id)
    initial = {
        "branch": current.branch,
        "allowed_messages": sorted(current.allowed),
        "patron_name": current.patron_name,
        "send_titles": current.send_titles,
        "require_pin": current.require_pin,
        "institution_id": current.institution_id,
        "active": current.active,
    }
    form = forms.EditTerminalForm(request.POST or None, initial=initial)
    status = 200
    if request.method == "POST" and form.is_valid():
        try:
            services.terminal_update(
                actor=request.user, terminal_id=current.pk, **form.cleaned_data
            )
        except PermissionDenied:
            raise
        except DomainError as exc:
            form.add_error(None, _(exc.message))
            status = 400
        else:
            messages.success(request, _("Saved."))
            return redirect("staff_sip2:terminal", terminal_id=current.pk)
    elif request.method == "POST":
        status = 400
    return render(request, "sip2/terminal.html", {"terminal": current, "form": form}, status=status)


@staff_page(perm=MANAGE)
@require_POST
def new_password(request, terminal_id: int):
    current = services.terminal_get(actor=request.user, terminal_id=terminal_id)
    password = services.terminal_set_password(actor=request.user, terminal_id=current.pk)
    return render(
        request,
        "sip2/terminal.html",
        {
            "terminal": current,
            "form": forms.EditTerminalForm(
                initial={
                    "branch": current.branch,
                    "allowed_messages": sorted(current.allowed),
                    "patron_name": current.patron_name,
                    "send_titles": current.send_titles,
                    "require_pin": current.require_pin,
                    "institution_id": current.institution_id,
                    "active": current.active,
                }
            ),
            "password": password,
        },
    )
