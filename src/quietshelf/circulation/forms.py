"""Forms of the desk's rule and calendar pages (shape input only; services decide)."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from quietshelf.catalog.models import Branch, ItemType
from quietshelf.circulation.models import LostFeePolicy, PeriodUnit
from quietshelf.core import money
from quietshelf.core.errors import InvalidInput

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


class MajorAmountField(forms.CharField):
    """An amount typed in the currency's major unit ("50", "2,50"); cleaned to minor units.

    0 is allowed (no fine); empty gives None when the field is optional."""

    def __init__(self, *, required=True, initial=None, **kwargs):
        kwargs.setdefault("widget", forms.TextInput(attrs={"inputmode": "decimal"}))
        super().__init__(required=required, initial=initial, max_length=20, **kwargs)

    def clean(self, value):
        value = super().clean(value)
        if value in ("", None):
            return None
        if value.strip().strip("0").strip(".,") == "":
            return 0
        try:
            return money.parse_major(value, settings.QUIETSHELF_CURRENCY)
        except InvalidInput as exc:
            raise forms.ValidationError(_(exc.message)) from None


class CellForm(forms.Form):
    """A cell of the matrix; empty = any."""

    patron_group = forms.ModelChoiceField(
        queryset=None, required=False, empty_label=_("any patron group"), label=_("Patron group")
    )
    item_type = forms.ModelChoiceField(
        queryset=ItemType.objects.all(),
        required=False,
        empty_label=_("any item type"),
        label=_("Item type"),
    )
    branch = forms.ModelChoiceField(
        queryset=Branch.objects.all(),
        required=False,
        empty_label=_("any branch"),
        label=_("Branch"),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["patron_group"].queryset = _groups()


class RuleForm(CellForm):
    loan_period = forms.IntegerField(min_value=1, initial=21, label=_("Loan period"))
    period_unit = forms.ChoiceField(
        choices=PeriodUnit.choices, initial="days", label=_("Period unit")
    )
    renewals_allowed = forms.IntegerField(min_value=0, initial=2, label=_("Renewals allowed"))
    renewal_period = forms.IntegerField(min_value=1, required=False, label=_("Renewal period"))
    no_renewal_before_days = forms.IntegerField(
        min_value=0,
        required=False,
        label=_("No renewal earlier than (days before due)"),
        help_text=_("Empty: a renewal is refused only when it would not move the due date."),
    )
    max_loans = forms.IntegerField(min_value=0, required=False, label=_("Max loans"))
    max_loans_per_type = forms.IntegerField(
        min_value=0, required=False, label=_("Max loans per type")
    )
    holds_allowed = forms.BooleanField(required=False, initial=True, label=_("Holds allowed"))
    hold_limit = forms.IntegerField(min_value=0, required=False, label=_("Hold limit"))
    fine_per_day_minor = MajorAmountField(initial="0", label=_("Fine per day"))
    grace_days = forms.IntegerField(min_value=0, initial=0, label=_("Grace days"))
    max_fine_minor = MajorAmountField(required=False, label=_("Max fine"))
    fines_open_days_only = forms.BooleanField(
        required=False, initial=True, label=_("Fines on open days only")
    )
    lost_fee_policy = forms.ChoiceField(
        choices=LostFeePolicy.choices, initial="price", label=_("Lost item fee")
    )
    lost_default_minor = MajorAmountField(initial="0", label=_("Default lost item fee"))
    processing_fee_minor = MajorAmountField(initial="0", label=_("Processing fee"))
    note = forms.CharField(max_length=200, required=False, label=_("Note"))


class CalendarForm(forms.Form):
    branch = forms.ModelChoiceField(queryset=Branch.objects.all(), label=_("Branch"))
    closed_weekdays = forms.TypedMultipleChoiceField(
        choices=WEEKDAYS,
        coerce=int,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label=_("Closed weekdays"),
    )
    opens = forms.TimeField(required=False, label=_("Opens"))
    closes = forms.TimeField(required=False, label=_("Closes"))


class ClosedPeriodForm(forms.Form):
    branch = forms.ModelChoiceField(queryset=Branch.objects.all(), label=_("Branch"))
    first = forms.DateField(label=_("From"))
    last = forms.DateField(required=False, label=_("To"))
    note = forms.CharField(max_length=200, required=False, label=_("Note"))
