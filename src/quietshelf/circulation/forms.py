"""Forms of the desk's rule and calendar pages (shape input only; services decide)."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from quietshelf.catalog.models import Branch, ItemType
from quietshelf.circulation.models import LostFeePolicy, PeriodUnit

WEEKDAYS = [
    (1, _("Monday")),
    (2, _("Tuesday")),
    (3, _("Wednesday")),
    (4, _("Thursday")),
    (5, _("Friday")),
    (6, _("Saturday")),
    (7, _("Sunday")),
]


def _groups():
    from quietshelf.patrons.models import PatronGroup

    return PatronGroup.objects.all()


class CellForm(forms.Form):
    """A cell of the matrix; empty = any."""

    patron_group = forms.ModelChoiceField(
        queryset=None, required=False, empty_label=_("any patron group")
    )
    item_type = forms.ModelChoiceField(
        queryset=ItemType.objects.all(), required=False, empty_label=_("any item type")
    )
    branch = forms.ModelChoiceField(
        queryset=Branch.objects.all(), required=False, empty_label=_("any branch")
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["patron_group"].queryset = _groups()


class RuleForm(CellForm):
    loan_period = forms.IntegerField(min_value=1, initial=21)
    period_unit = forms.ChoiceField(choices=PeriodUnit.choices, initial="days")
    renewals_allowed = forms.IntegerField(min_value=0, initial=2)
    renewal_period = forms.IntegerField(min_value=1, required=False)
    max_loans = forms.IntegerField(min_value=0, required=False)
    max_loans_per_type = forms.IntegerField(min_value=0, required=False)
    holds_allowed = forms.BooleanField(required=False, initial=True)
    hold_limit = forms.IntegerField(min_value=0, required=False)
    fine_per_day_minor = forms.IntegerField(min_value=0, initial=0)
    grace_days = forms.IntegerField(min_value=0, initial=0)
    max_fine_minor = forms.IntegerField(min_value=0, required=False)
    fines_open_days_only = forms.BooleanField(required=False, initial=True)
    lost_fee_policy = forms.ChoiceField(choices=LostFeePolicy.choices, initial="price")
    lost_default_minor = forms.IntegerField(min_value=0, initial=0)
    processing_fee_minor = forms.IntegerField(min_value=0, initial=0)
    note = forms.CharField(max_length=200, required=False)


class CalendarForm(forms.Form):
    branch = forms.ModelChoiceField(queryset=Branch.objects.all())
    closed_weekdays = forms.TypedMultipleChoiceField(
        choices=WEEKDAYS, coerce=int, required=False, widget=forms.CheckboxSelectMultiple
    )
    opens = forms.TimeField(required=False)
    closes = forms.TimeField(required=False)


class ClosedPeriodForm(forms.Form):
    branch = forms.ModelChoiceField(queryset=Branch.objects.all())
    first = forms.DateField()
    last = forms.DateField(required=False)
    note = forms.CharField(max_length=200, required=False)
