"""Forms of the patron portal: they shape input; the services decide."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from quietshelf.patrons.models import Language


class SignInForm(forms.Form):
    identifier = forms.CharField(
        label=_("Card number or e-mail address"),
        max_length=254,
        widget=forms.TextInput(attrs={"autocomplete": "username", "autofocus": True}),
    )
    password = forms.CharField(
        label=_("Password"),
        max_length=256,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )
    next = forms.CharField(required=False, widget=forms.HiddenInput, max_length=500)


class LinkRequestForm(forms.Form):
    identifier = forms.CharField(
        label=_("Card number or e-mail address"),
        max_length=254,
        widget=forms.TextInput(attrs={"autocomplete": "username"}),
    )


class NewPasswordForm(forms.Form):
    password1 = forms.CharField(
        label=_("New password"),
        max_length=256,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=_("At least 8 characters; not a common password and not only digits."),
    )
    password2 = forms.CharField(
        label=_("New password again"),
        max_length=256,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def clean(self):
        data = super().clean()
        if data.get("password1") and data.get("password1") != data.get("password2"):
            self.add_error("password2", _("The two passwords differ."))
        return data


class ChangePasswordForm(NewPasswordForm):
    old_password = forms.CharField(
        label=_("Current password"),
        max_length=256,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )
    field_order = ["old_password", "password1", "password2"]


class RegisterForm(forms.Form):
    given_name = forms.CharField(label=_("Given name"), max_length=200)
    family_name = forms.CharField(label=_("Family name"), max_length=200)
    email = forms.EmailField(
        label=_("E-mail address"),
        max_length=254,
        help_text=_("We send a link here to set your password."),
    )
    phone = forms.CharField(label=_("Phone (optional)"), max_length=40, required=False)
    address = forms.CharField(
        label=_("Postal address (optional)"),
        max_length=500,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    preferred_language = forms.ChoiceField(
        label=_("Language for messages (optional)"),
        choices=[("", "—"), *Language.choices],
        required=False,
    )
    policy_id = forms.IntegerField(widget=forms.HiddenInput, required=False)
    acknowledge = forms.BooleanField(
        label=_("I have read the privacy statement."),
        required=True,
    )


class ContactForm(forms.Form):
    email = forms.EmailField(label=_("E-mail address"), max_length=254, required=False)
    phone = forms.CharField(label=_("Phone"), max_length=40, required=False)
    address = forms.CharField(
        label=_("Postal address"),
        max_length=500,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    password = forms.CharField(
        label=_("Current password"),
        help_text=_("Needed when you change your e-mail address or phone number."),
        max_length=256,
        strip=False,
        required=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )


class ConsentForm(forms.Form):
    scope = forms.CharField(max_length=60)
    action = forms.ChoiceField(choices=[("give", "give"), ("withdraw", "withdraw")])
