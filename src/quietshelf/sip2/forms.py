"""Forms of the staff page for SIP2 terminal accounts."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from quietshelf.catalog.models import Branch
from quietshelf.sip2.models import PatronName
from quietshelf.sip2.protocol.fields import GRANTABLE, REQUESTS

MESSAGE_CHOICES = [(code, f"{code} {REQUESTS[code].name}") for code in GRANTABLE]


class TerminalForm(forms.Form):
    branch = forms.ModelChoiceField(label=_("Branch"), queryset=Branch.objects.order_by("name"))
    allowed_messages = forms.MultipleChoiceField(
        label=_("Allowed messages"),
        choices=MESSAGE_CHOICES,
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text=_("Login, SC Status and Resend are always allowed. A sorter needs 09 and 17."),
    )
    patron_name = forms.ChoiceField(
        label=_("Patron name sent"), choices=PatronName.choices, initial=PatronName.FIRST
    )
    send_titles = forms.BooleanField(label=_("Titles in patron item lists"), required=False)
    require_pin = forms.BooleanField(label=_("Card + PIN required"), required=False, initial=True)
    institution_id = forms.CharField(
        label=_("Institution id (AO)"),
        max_length=64,
        required=False,
        help_text=_("Blank: the branch code."),
    )


class NewTerminalForm(TerminalForm):
    name = forms.CharField(label=_("Login name"), max_length=64)
    field_order = ["name"]


class EditTerminalForm(TerminalForm):
    active = forms.BooleanField(label=_("Active"), required=False)
