"""Forms of the Retention page (PRV-RET-1/2)."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _


class RetentionDaysForm(forms.Form):
    rule = forms.CharField(max_length=40, widget=forms.HiddenInput)
    days = forms.CharField(max_length=10, label=_("Days"))


class LegalHoldForm(forms.Form):
    case_reference = forms.CharField(
        max_length=100, label=_("Case reference"), help_text=_("A case number, never a name.")
    )
    card = forms.CharField(
        max_length=40, required=False, label=_("Patron's card number (to hold one patron)")
    )
    rule = forms.ChoiceField(required=False, label=_("or a whole category"))

    def __init__(self, *args, rules=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["rule"].choices = [("", "—"), *[(r, r) for r in rules]]

    def clean(self):
        data = super().clean()
        if bool((data.get("card") or "").strip()) == bool(data.get("rule")):
            raise forms.ValidationError(_("Give either a card number or a category, not both."))
        return data
