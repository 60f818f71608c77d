"""The form of the report schedules page (choices only; the rules are in services)."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from quietshelf.reports.models import ScheduleFrequency, ScheduleWindow


class ScheduleForm(forms.Form):
    saved = forms.ChoiceField(label=_("Saved report"))
    frequency = forms.ChoiceField(label=_("How often"), choices=ScheduleFrequency.choices)
    window = forms.ChoiceField(label=_("Dates"), choices=ScheduleWindow.choices)
    language = forms.ChoiceField(
        label=_("Language of the mail"),
        choices=[("en", "English"), ("nb", "Norsk bokmål")],
    )
    include_me = forms.BooleanField(label=_("Send it to me"), required=False, initial=True)
    others = forms.CharField(
        label=_("Also to colleagues who may read reports (user names, comma-separated)"),
        required=False,
        max_length=2000,
    )

    def __init__(self, *args, saved_choices=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["saved"].choices = list(saved_choices)

    def usernames(self) -> list[str]:
        raw = self.cleaned_data.get("others") or ""
        return [n.strip() for n in raw.replace("\n", ",").split(",") if n.strip()]


class MailAddressForm(forms.Form):
    email = forms.EmailField(
        label=_("Your address for report mail"), required=False, max_length=254
    )
