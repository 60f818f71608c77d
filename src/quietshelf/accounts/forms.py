"""Forms for the staff sign-in steps and the staff account pages."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from quietshelf.accounts import authz
from quietshelf.accounts.models import OrgUnit, OrgUnitKind, Role


class CodeForm(forms.Form):
    code = forms.CharField(
        label=_("Code from your authenticator app, or a recovery code"),
        max_length=20,
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "text", "autofocus": True}
        ),
    )


class ConfirmTOTPForm(forms.Form):
    code = forms.CharField(
        label=_("Six-digit code shown by the app"),
        max_length=8,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
    )


class ReauthForm(forms.Form):
    password = forms.CharField(
        label=_("Your password"),
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )
    code = forms.CharField(
        label=_("Code from your authenticator app, or a recovery code"),
        max_length=20,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code"}),
    )


class PasswordChangeForm(forms.Form):
    new_password = forms.CharField(
        label=_("New password"),
        min_length=8,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )
    repeat = forms.CharField(
        label=_("New password again"),
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def clean(self):
        data = super().clean()
        if data.get("new_password") and data.get("new_password") != data.get("repeat"):
            self.add_error("repeat", _("The two passwords differ."))
        return data


class StaffCreateForm(forms.Form):
    username = forms.CharField(label=_("Username"), max_length=150)
    role = forms.ModelChoiceField(
        label=_("Role"), queryset=Role.objects.all(), required=False, to_field_name="code"
    )
    org_unit = forms.ModelChoiceField(
        label=_("Where (part of the organisation)"),
        queryset=OrgUnit.objects.all(),
        required=False,
        help_text=_("Empty: the whole organisation."),
    )


class GrantForm(forms.Form):
    role = forms.ModelChoiceField(
        label=_("Role"), queryset=Role.objects.all(), to_field_name="code"
    )
    org_unit = forms.ModelChoiceField(
        label=_("Where (part of the organisation)"), queryset=OrgUnit.objects.all()
    )


class RoleForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=100)
    description = forms.CharField(
        label=_("What the role is for"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    permissions = forms.MultipleChoiceField(
        label=_("Permissions"),
        widget=forms.CheckboxSelectMultiple,
        choices=[
            (name, f"{name}: {text}{' (personal data)' if personal else ''}")
            for name, (text, personal) in authz.PERMISSIONS.items()
        ],
    )


class OrgUnitForm(forms.Form):
    kind = forms.ChoiceField(label=_("Kind"), choices=OrgUnitKind.choices)
    code = forms.CharField(label=_("Code"), max_length=32)
    name = forms.CharField(label=_("Name"), max_length=200)
    parent = forms.ModelChoiceField(
        label=_("Under"), queryset=OrgUnit.objects.exclude(kind="branch"), required=False
    )
    branch = forms.ModelChoiceField(
        label=_("Catalogue branch (for a branch unit)"),
        queryset=None,
        required=False,
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        from quietshelf.catalog.models import Branch

        self.fields["branch"].queryset = Branch.objects.filter(org_unit__isnull=True)


class TrainingForm(forms.Form):
    title = forms.CharField(label=_("Title"), max_length=200)
    body = forms.CharField(label=_("Training text"), widget=forms.Textarea(attrs={"rows": 12}))


class AlertEmailForm(forms.Form):
    email = forms.EmailField(
        label=_("E-mail address for security alerts"),
        required=False,
        max_length=254,
        help_text=_("We write here when your two-step sign-in is locked. Leave empty for none."),
    )
