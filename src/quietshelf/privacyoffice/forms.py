"""Forms of the privacy office pages (staff) and of My account's privacy requests."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from quietshelf.privacyoffice import policy
from quietshelf.privacyoffice.models import (
    CaseChannel,
    CaseKind,
    GovernmentRequestKind,
    IdentityMethod,
)

REASON_LABELS = {
    "patron_request": _("The patron asked for it"),
    "account_expired": _("The account expired and was not renewed"),
    "duplicate": _("Duplicate registration"),
    "deceased": _("The patron has died"),
    "other": _("Another reason (recorded in the case)"),
}


class EraseForm(forms.Form):
    reason = forms.ChoiceField(
        label=_("Reason"), choices=[(k, REASON_LABELS[k]) for k in policy.ERASURE_REASONS]
    )
    confirm = forms.BooleanField(
        label=_("I have read the exceptions above; erase this account for good"), required=True
    )


class CaseOpenForm(forms.Form):
    kind = forms.ChoiceField(label=_("What the person asks for"), choices=CaseKind.choices)
    channel = forms.ChoiceField(
        label=_("How the request came"),
        choices=[c for c in CaseChannel.choices if c[0] not in ("self_service", "staff")],
    )
    received_on = forms.DateField(
        label=_("Received on"), widget=forms.DateInput(attrs={"type": "date"}), required=False
    )
    patron_id = forms.UUIDField(label=_("Patron id (if registered)"), required=False)
    details = forms.CharField(
        label=_("What was asked"), widget=forms.Textarea(attrs={"rows": 4}), required=False
    )


class IdentityForm(forms.Form):
    method = forms.ChoiceField(label=_("How identity was checked"), choices=IdentityMethod.choices)


class CloseForm(forms.Form):
    status = forms.ChoiceField(
        label=_("Outcome"),
        choices=[("done", _("Done")), ("refused", _("Refused")), ("withdrawn", _("Withdrawn"))],
    )
    note = forms.CharField(
        label=_("What was done and why"), widget=forms.Textarea(attrs={"rows": 3}), required=False
    )


class CanarySignForm(forms.Form):
    valid_days = forms.IntegerField(label=_("Valid for (days)"), initial=90)


class PatronEraseRequestForm(forms.Form):
    details = forms.CharField(
        label=_("Anything you want to tell us (optional)"),
        widget=forms.Textarea(attrs={"rows": 3}),
        required=False,
        max_length=2000,
    )
    password = forms.CharField(label=_("Your password"), widget=forms.PasswordInput)


class RectificationForm(forms.Form):
    details = forms.CharField(
        label=_("What is wrong, and what should it be?"),
        widget=forms.Textarea(attrs={"rows": 4}),
        max_length=2000,
    )


class GovernmentRequestForm(forms.Form):
    kind = forms.ChoiceField(label=_("Kind of order"), choices=GovernmentRequestKind.choices)
    agency = forms.CharField(label=_("Requesting authority"), max_length=200)
    agency_reference = forms.CharField(label=_("Their reference"), max_length=100, required=False)
    received_on = forms.DateField(
        label=_("Received on"), widget=forms.DateInput(attrs={"type": "date"}), required=False
    )
    patron_id = forms.UUIDField(label=_("Patron id"), required=False)
    scope = forms.CharField(
        label=_("Records the order names"), widget=forms.Textarea(attrs={"rows": 3}), required=False
    )
    gag_until = forms.DateField(
        label=_("The order forbids telling the patron until"),
        widget=forms.DateInput(attrs={"type": "date"}),
        required=False,
    )
    gag_indefinite = forms.BooleanField(
        label=_("The order forbids telling the patron, with no end date"), required=False
    )


class ChecklistForm(forms.Form):
    court_competent = forms.BooleanField(
        label=_("Issued by a court of competent jurisdiction"), required=False
    )
    good_cause = forms.BooleanField(label=_("Shows good cause"), required=False)
    proper_form = forms.BooleanField(label=_("In proper form"), required=False)
    scope_limited = forms.BooleanField(
        label=_("What we would release is no wider than the order"), required=False
    )


class ReleaseForm(forms.Form):
    categories = forms.MultipleChoiceField(
        label=_("Release"),
        choices=[
            ("account", _("Account: name, cards, contact details, identifiers")),
            ("loans", _("Current loans")),
            ("holds", _("Open holds")),
            ("fees", _("Fees")),
        ],
        widget=forms.CheckboxSelectMultiple,
    )
    code = forms.CharField(
        label=_("Code from your authenticator app (asked again now)"),
        max_length=20,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
    )


def _data_category_choices():
    from quietshelf.privacy.inventory import DATA_CATEGORIES

    return [(k, f"{k}: {v}") for k, v in DATA_CATEGORIES.items()]


class BreachForm(forms.Form):
    title = forms.CharField(label=_("Short name"), max_length=200)
    what_happened = forms.CharField(
        label=_("What happened"), widget=forms.Textarea(attrs={"rows": 3})
    )
    discovered_at = forms.DateTimeField(
        label=_("Discovered at"), widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )
    data_categories = forms.MultipleChoiceField(
        label=_("Data involved"),
        choices=_data_category_choices,
        widget=forms.CheckboxSelectMultiple,
    )
    branch_ids = forms.ModelMultipleChoiceField(
        label=_("Branches (none: all)"), queryset=None, required=False
    )
    systems = forms.CharField(label=_("Systems (comma-separated)"), required=False)
    window_start = forms.DateTimeField(
        label=_("From"), widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )
    window_end = forms.DateTimeField(
        label=_("To"), widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )

    def __init__(self, *args, **kwargs):
        from quietshelf.catalog.models import Branch

        super().__init__(*args, **kwargs)
        self.fields["branch_ids"].queryset = Branch.objects.order_by("name")

    def service_kwargs(self) -> dict:
        data = dict(self.cleaned_data)
        data["branch_ids"] = [b.pk for b in data["branch_ids"]]
        data["systems"] = [s for s in data["systems"].split(",") if s.strip()]
        return data


class BreachNoticeForm(forms.Form):
    headline = forms.CharField(label=_("Headline"), max_length=200)
    text = forms.CharField(
        label=_("Notice: what happened, what data, what we are doing, whom to contact"),
        widget=forms.Textarea(attrs={"rows": 8}),
    )
