"""Privacy office pages (/staff/privacy/): inventory, report, policy versions, audit log.

Signed-in staff holding privacy.view_privacy_office through a role (the privacy
officer), with the gates every patron-data permission has: an MFA-verified
session and acknowledged privacy training (accounts/authz.py).
"""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import redirect, render

from quietshelf.accounts.decorators import staff_page
from quietshelf.core.errors import DomainError
from quietshelf.privacy import audit, inventory, selectors, services
from quietshelf.privacy.forms import AuditSearchForm, PolicyVersionForm
from quietshelf.privacy.models import PolicyVersion

PERMISSION = "privacy.view_privacy_office"


privacy_office = staff_page(perm=PERMISSION)


@privacy_office
def inventory_page(request):
    return render(
        request,
        "privacy/office/inventory.html",
        {"items": inventory.items(), "problems": inventory.problems()},
    )


@privacy_office
def report(request):
    data = selectors.records_of_processing()
    return render(
        request, "privacy/office/report.html", {"markdown": selectors.records_markdown(data)}
    )


@privacy_office
def policies(request):
    form = PolicyVersionForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.policy_version_create(actor=request.user, **form.cleaned_data)
        except DomainError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, "Policy version published.")
            return redirect("privacy_office:policies")
    return render(
        request,
        "privacy/office/policies.html",
        {
            "policies": PolicyVersion.objects.order_by("-effective_date", "-id"),
            "form": form,
            "can_publish": True,
        },
    )


@privacy_office
def audit_log(request):
    form = AuditSearchForm(request.GET or None)
    filters = form.cleaned_data if form.is_valid() else {}
    entries = selectors.audit_search(**{k: v for k, v in filters.items() if v})
    return render(
        request,
        "privacy/office/audit.html",
        {"form": form, "entries": entries, "chain": audit.verify()},
    )
