"""Human labels (translatable) for facet values and item statuses."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

FACET_TITLES = {
    "available": _("Availability"),
    "format": _("Format"),
    "language": _("Language"),
    "era": _("Publication year"),
    "branch": _("Library"),
}

FORMATS = {
    "book": _("Book"),
    "serial": _("Journal or serial"),
    "score": _("Music score"),
    "music": _("Music recording"),
    "audio": _("Spoken recording"),
    "map": _("Map"),
    "video": _("Film or video"),
    "image": _("Picture"),
    "computer": _("Computer file"),
    "kit": _("Kit"),
    "manuscript": _("Manuscript"),
    "object": _("Object"),
    "other": _("Other"),
}

LANGUAGES = {
    "ara": _("Arabic"),
    "chi": _("Chinese"),
    "dan": _("Danish"),
    "dut": _("Dutch"),
    "eng": _("English"),
    "fin": _("Finnish"),
    "fre": _("French"),
    "ger": _("German"),
    "gre": _("Greek"),
    "heb": _("Hebrew"),
    "hin": _("Hindi"),
    "ice": _("Icelandic"),
    "ita": _("Italian"),
    "jpn": _("Japanese"),
    "kor": _("Korean"),
    "lat": _("Latin"),
    "mul": _("Multiple languages"),
    "nep": _("Nepali"),
    "nno": _("Norwegian Nynorsk"),
    "nob": _("Norwegian Bokmål"),
    "nor": _("Norwegian"),
    "per": _("Persian"),
    "pol": _("Polish"),
    "por": _("Portuguese"),
    "rus": _("Russian"),
    "sme": _("Northern Sami"),
    "smi": _("Sami"),
    "spa": _("Spanish"),
    "swe": _("Swedish"),
    "tur": _("Turkish"),
    "ukr": _("Ukrainian"),
    "und": _("Undetermined"),
    "urd": _("Urdu"),
    "zxx": _("No linguistic content"),
}

STATUSES = {
    "available": _("Available"),
    "on_loan": _("On loan"),
    "in_transit": _("In transit"),
    "on_hold_shelf": _("On hold shelf"),
    "lost": _("Lost"),
    "missing": _("Missing"),
    "withdrawn": _("Withdrawn"),
    "in_processing": _("In processing"),
    "damaged": _("Damaged"),
}

SORTS = {
    "relevance": _("Relevance"),
    "title": _("Title"),
    "-year": _("Newest first"),
    "year": _("Oldest first"),
}


def facet_label(facet: str, value: str, fallback: str = "") -> str:
    if facet == "format":
        return str(FORMATS.get(value, value))
    if facet == "language":
        return str(LANGUAGES.get(value, value))
    if facet == "era":
        if value == "pre1900":
            return str(_("Before 1900"))
        return str(_("%(decade)ss") % {"decade": value})
    if facet == "available":
        return str(_("Available now"))
    return fallback or value


def status_label(value: str) -> str:
    return str(STATUSES.get(value, value))
