"""Staff patron forms. They shape input; the services decide."""

from __future__ import annotations

import json

from django import forms
from django.utils.translation import gettext_lazy as _

from quietshelf.catalog.models import Branch
from quietshelf.patrons.models import (
    BlockReason,
    ContactKind,
    ContactLabel,
    IdentifierType,
    Language,
    NotificationChannel,
    PatronGroup,
    PatronLoadMapping,
    PatronStatus,
    ProxyKind,
)

DATE = forms.DateInput(attrs={"type": "date"})
MANUAL_REASONS = [(c, label) for c, label in BlockReason.choices if c != BlockReason.EXPIRED]


class FindPatronForm(forms.Form):
    q = forms.CharField(
        label=_("Card number, name, e-mail or identifier"),
        max_length=200,
        widget=forms.TextInput(attrs={"autocomplete": "off", "autofocus": True}),
    )
    kind = forms.ChoiceField(
        label=_("Search by"),
        choices=[
            ("any", _("Anything (guess)")),
            ("barcode", _("Card number")),
            ("name", _("Name")),
            ("email", _("E-mail")),
            ("identifier", _("Identifier")),
        ],
        initial="any",
    )


class _PatronCore(forms.Form):
    given_name = forms.CharField(label=_("Given name"), max_length=200, required=False)
    family_name = forms.CharField(label=_("Family name"), max_length=200, required=False)
    group = forms.ModelChoiceField(
        label=_("Patron group"),
        queryset=PatronGroup.objects.all(),
        to_field_name="code",
        required=False,
    )
    home_branch = forms.ModelChoiceField(
        label=_("Home branch"), queryset=Branch.objects.all(), to_field_name="code", required=False
    )
    status = forms.ChoiceField(label=_("Status"), choices=PatronStatus.choices, initial="active")
    expiry_date = forms.DateField(label=_("Expiry date"), required=False, widget=DATE)
    erase_after = forms.DateField(label=_("Date for erasure"), required=False, widget=DATE)
    preferred_language = forms.ChoiceField(
        label=_("Preferred language"),
        choices=[("", _("Not given")), *Language.choices],
        required=False,
    )
    notification_channel = forms.ChoiceField(
        label=_("Notices by"), choices=NotificationChannel.choices, initial="email"
    )
    date_of_birth = forms.DateField(
        label=_("Date of birth"),
        required=False,
        widget=DATE,
        help_text=_("Optional: only where age matters (minors)."),
    )

    def clean(self):
        data = super().clean()
        if (
            not (data.get("given_name") or "").strip()
            and not (data.get("family_name") or "").strip()
        ):
            self.add_error("given_name", _("A name is required."))
        return data


class PatronRegisterForm(_PatronCore):
    barcode = forms.CharField(
        label=_("Card number"),
        max_length=64,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
    identifier_type = forms.ChoiceField(
        label=_("Identifier type"), choices=IdentifierType.choices, required=False
    )
    identifier_value = forms.CharField(label=_("Identifier"), max_length=100, required=False)
    email = forms.CharField(label=_("E-mail"), max_length=254, required=False)
    phone = forms.CharField(label=_("Phone"), max_length=40, required=False)
    address = forms.CharField(
        label=_("Address"), max_length=500, required=False, widget=forms.Textarea(attrs={"rows": 3})
    )

    field_order = [
        "given_name",
        "family_name",
        "barcode",
        "identifier_type",
        "identifier_value",
        "email",
        "phone",
        "address",
    ]

    def clean(self):
        data = super().clean()
        if (
            not (data.get("barcode") or "").strip()
            and not (data.get("identifier_value") or "").strip()
        ):
            self.add_error("barcode", _("A card number or another identifier is required."))
        return data


class PatronEditForm(_PatronCore):
    pass


class CardForm(forms.Form):
    barcode = forms.CharField(
        label=_("New card number"),
        max_length=64,
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )


class ContactForm(forms.Form):
    kind = forms.ChoiceField(label=_("Kind"), choices=ContactKind.choices)
    label = forms.ChoiceField(label=_("Type"), choices=ContactLabel.choices, initial="home")
    value = forms.CharField(
        label=_("Value"), max_length=500, widget=forms.Textarea(attrs={"rows": 2})
    )
    preferred = forms.BooleanField(label=_("Preferred"), required=False)


class IdentifierForm(forms.Form):
    type = forms.ChoiceField(label=_("Type"), choices=IdentifierType.choices)
    value = forms.CharField(label=_("Identifier"), max_length=100)


class NoteForm(forms.Form):
    text = forms.CharField(
        label=_("Note"), max_length=4000, widget=forms.Textarea(attrs={"rows": 4})
    )
    confirmed = forms.BooleanField(
        label=_("I have checked: the library needs this written down"), required=False
    )


class BlockForm(forms.Form):
    reason_code = forms.ChoiceField(label=_("Reason"), choices=MANUAL_REASONS)
    comment = forms.CharField(
        label=_("Comment"),
        max_length=4000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    expires_on = forms.DateField(label=_("Ends on"), required=False, widget=DATE)


class LiftForm(forms.Form):
    reason = forms.CharField(label=_("Reason for lifting"), max_length=4000)


class OverrideForm(forms.Form):
    code = forms.ChoiceField(label=_("Block"), choices=BlockReason.choices)
    reason = forms.CharField(label=_("Reason for the override"), max_length=4000)


class ProxyForm(forms.Form):
    barcode = forms.CharField(
        label=_("Card number of the proxy or guarantor"),
        max_length=64,
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
    kind = forms.ChoiceField(label=_("Kind"), choices=ProxyKind.choices)


class LoadForm(forms.Form):
    file = forms.FileField(label=_("CSV or JSON file"))
    format = forms.ChoiceField(label=_("Format"), choices=[("csv", "CSV"), ("json", "JSON")])
    mapping = forms.ModelChoiceField(
        label=_("Field mapping"), queryset=PatronLoadMapping.objects.all()
    )
    dry_run = forms.BooleanField(label=_("Dry run: check only, store nothing"), required=False)


class MappingForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=100)
    match_type = forms.ChoiceField(
        label=_("Match rows on"), choices=IdentifierType.choices, initial="institutional_id"
    )
    columns = forms.CharField(
        label=_("Columns (JSON: source column → patron field)"),
        widget=forms.Textarea(attrs={"rows": 8}),
        max_length=10_000,
    )
    default_group = forms.ModelChoiceField(
        label=_("Default group"),
        queryset=PatronGroup.objects.all(),
        to_field_name="code",
        required=False,
    )
    default_branch = forms.ModelChoiceField(
        label=_("Default branch"),
        queryset=Branch.objects.all(),
        to_field_name="code",
        required=False,
    )

    def clean_columns(self):
        try:
            data = json.loads(self.cleaned_data["columns"])
        except json.JSONDecodeError:
            raise forms.ValidationError(_("This is not valid JSON.")) from None
        if not isinstance(data, dict):
            raise forms.ValidationError(_('Write an object: {"Column": "given_name", …}.'))
        return data
