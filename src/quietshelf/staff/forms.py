"""Staff cataloguing forms. They only shape input; the services decide."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from quietshelf.catalog.models import ItemStatus

CODE_HELP = _("Letters, digits, dot, dash or underscore; no spaces.")


class FindForm(forms.Form):
    q = forms.CharField(label=_("Search the catalogue"), required=False, max_length=500)
    page = forms.IntegerField(required=False, min_value=1, max_value=10_000)

    def clean_q(self):
        # No control characters reach the search engine (PostgreSQL refuses NUL).
        return "".join(c if c.isprintable() else " " for c in self.cleaned_data["q"]).strip()


class LookupForm(forms.Form):
    lookup = forms.CharField(
        label=_("Barcode, ISBN, ISSN or control number"), required=False, max_length=64
    )


class RecordCoreForm(forms.Form):
    """The core fields record_update_core_fields takes."""

    title = forms.CharField(label=_("Title"), max_length=2000)
    subtitle = forms.CharField(label=_("Subtitle"), max_length=2000, required=False)
    responsibility = forms.CharField(
        label=_("Statement of responsibility"), max_length=2000, required=False
    )
    edition = forms.CharField(label=_("Edition"), max_length=500, required=False)
    publisher = forms.CharField(label=_("Publisher"), max_length=500, required=False)
    publication_place = forms.CharField(
        label=_("Place of publication"), max_length=500, required=False
    )
    year = forms.IntegerField(label=_("Year"), min_value=1, max_value=2999, required=False)
    language = forms.RegexField(
        label=_("Language (MARC code)"),
        regex=r"^[A-Za-z]{3}$",
        required=False,
        help_text=_("Three letters, e.g. nob, nno, eng."),
        error_messages={"invalid": _("Use a three-letter MARC language code, e.g. nob.")},
    )

    def clean_language(self):
        return self.cleaned_data["language"].lower()


class ItemForm(forms.Form):
    barcode = forms.RegexField(
        label=_("Barcode"),
        max_length=64,
        regex=r"^\S+$",
        error_messages={"invalid": _("A barcode has no spaces.")},
    )
    branch = forms.ChoiceField(label=_("Branch"))
    item_type = forms.ChoiceField(label=_("Item type"))
    location = forms.ChoiceField(label=_("Shelving location"), required=False)
    call_number = forms.CharField(label=_("Call number"), max_length=255, required=False)
    status = forms.ChoiceField(label=_("Status"), choices=ItemStatus.choices)
    price = forms.DecimalField(
        label=_("Replacement price"),
        required=False,
        min_value=Decimal(0),
        max_value=Decimal(10**9),
        decimal_places=2,
        max_digits=12,
    )
    public_note = forms.CharField(
        label=_("Public note"), max_length=2000, required=False, widget=forms.Textarea({"rows": 2})
    )
    staff_note = forms.CharField(
        label=_("Staff note"), max_length=2000, required=False, widget=forms.Textarea({"rows": 2})
    )

    def __init__(self, *args, branches=(), item_types=(), locations=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["branch"].choices = [(b.code, f"{b.name} ({b.code})") for b in branches]
        self.fields["item_type"].choices = [(t.code, f"{t.name} ({t.code})") for t in item_types]
        self.fields["location"].choices = [("", _("(none)"))] + [
            (loc.code, f"{loc.name} ({loc.code})") for loc in locations
        ]
        self.fields["price"].help_text = _("In %(currency)s, e.g. 349.00") % {
            "currency": settings.QUIETSHELF_CURRENCY
        }

    def service_fields(self) -> dict:
        """The cleaned data as item_create/item_update keywords."""
        data = self.cleaned_data
        price = data.get("price")
        return {
            "barcode": data["barcode"],
            "branch_code": data["branch"],
            "item_type_code": data["item_type"],
            "location_code": data.get("location") or None,
            "call_number": data.get("call_number", ""),
            "status": data["status"],
            "price_minor": None
            if price is None
            else int((price * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP)),
            "public_note": data.get("public_note", ""),
            "staff_note": data.get("staff_note", ""),
        }

    @staticmethod
    def initial_from(item) -> dict:
        return {
            "barcode": item.barcode,
            "branch": item.branch.code,
            "item_type": item.item_type.code,
            "location": item.location.code if item.location_id else "",
            "call_number": item.call_number,
            "status": item.status,
            "price": None if item.price_minor is None else Decimal(item.price_minor) / 100,
            "public_note": item.public_note,
            "staff_note": item.staff_note,
        }


class UploadForm(forms.Form):
    file = forms.FileField(
        label=_("MARC file"),
        help_text=_("ISO 2709 (.mrc) or MARCXML (.xml)."),
        allow_empty_file=True,
    )
    dry_run = forms.BooleanField(label=_("Dry run: check the file, store nothing"), required=False)


class CodedForm(forms.Form):
    code = forms.RegexField(
        label=_("Code"),
        max_length=32,
        regex=r"^[\w.-]+$",
        help_text=CODE_HELP,
        error_messages={"invalid": CODE_HELP},
    )
    name = forms.CharField(label=_("Name"), max_length=200)


class ItemTypeForm(CodedForm):
    circulates = forms.BooleanField(label=_("Can be borrowed"), required=False, initial=True)
