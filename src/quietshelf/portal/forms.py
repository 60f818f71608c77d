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


class PinRemoveForm(forms.Form):
    """Remove the self-check PIN: the current password first (SEC-AUTH-1). On the PIN page
    beside PinForm, so its fields carry the prefix "remove"."""

    prefix = "remove"
    password = forms.CharField(
        label=_("Current password"),
        max_length=256,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )


class PinForm(forms.Form):
    """Set the self-check PIN: the current password first (SEC-AUTH-1), the PIN twice."""

    password = forms.CharField(
        label=_("Current password"),
        max_length=256,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )
    pin1 = forms.CharField(
        label=_("New PIN"),
        max_length=8,
        min_length=4,
        help_text=_("4 to 8 digits, for the self-check machines only."),
        widget=forms.PasswordInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
    )
    pin2 = forms.CharField(
        label=_("New PIN again"),
        max_length=8,
        widget=forms.PasswordInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
    )

    def clean(self):
        data = super().clean()
        if data.get("pin1") and data.get("pin2") and data["pin1"] != data["pin2"]:
            self.add_error("pin2", _("The two PINs differ."))
        return data


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


# --- self-service circulation (circulation_views.py) -------------------------------------


class RenewForm(forms.Form):
    """One loan (the button pressed) or all of them."""

    loan = forms.UUIDField(required=False)
    all = forms.BooleanField(required=False)

    def clean(self):
        data = super().clean()
        if not data.get("loan") and not data.get("all"):
            raise forms.ValidationError(_("Choose a loan to renew."))
        return data


class HoldChoiceForm(forms.Form):
    hold = forms.UUIDField()


class SuspendForm(HoldChoiceForm):
    until = forms.DateField(
        label=_("Suspend until"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text=_("Leave empty to resume the hold now."),
    )


class HoldPlaceForm(forms.Form):
    pickup_branch = forms.TypedChoiceField(label=_("Pick up at"), coerce=int, choices=())

    def __init__(self, *args, branches=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["pickup_branch"].choices = [(b.pk, b.name) for b in branches]


class HistoryDeleteForm(forms.Form):
    confirm = forms.BooleanField(
        label=_("Yes, delete my whole reading history. This cannot be undone."),
        required=True,
        error_messages={"required": _("Tick the box to confirm.")},
    )
