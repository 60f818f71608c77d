"""Human labels (translatable) for facet values, item statuses and contributor roles."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

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
    # more MARC language codes seen in imported catalogues (issue 17 item 8)
    "afr": _("Afrikaans"),
    "akk": _("Akkadian"),
    "amh": _("Amharic"),
    "ang": _("Old English"),
    "arm": _("Armenian"),
    "baq": _("Basque"),
    "ben": _("Bengali"),
    "bul": _("Bulgarian"),
    "bur": _("Burmese"),
    "cat": _("Catalan"),
    "chu": _("Church Slavic"),
    "cop": _("Coptic"),
    "cze": _("Czech"),
    "egy": _("Egyptian"),
    "enm": _("Middle English"),
    "epo": _("Esperanto"),
    "est": _("Estonian"),
    "fao": _("Faroese"),
    "fro": _("Old French"),
    "geo": _("Georgian"),
    "gla": _("Scottish Gaelic"),
    "gle": _("Irish"),
    "glg": _("Galician"),
    "grc": _("Ancient Greek"),
    "guj": _("Gujarati"),
    "haw": _("Hawaiian"),
    "hrv": _("Croatian"),
    "hun": _("Hungarian"),
    "ind": _("Indonesian"),
    "kal": _("Greenlandic"),
    "kur": _("Kurdish"),
    "lav": _("Latvian"),
    "lit": _("Lithuanian"),
    "mao": _("Maori"),
    "mar": _("Marathi"),
    "may": _("Malay"),
    "myn": _("Mayan languages"),
    "nav": _("Navajo"),
    "pan": _("Panjabi"),
    "pus": _("Pashto"),
    "que": _("Quechua"),
    "rum": _("Romanian"),
    "san": _("Sanskrit"),
    "sgn": _("Sign languages"),
    "slo": _("Slovak"),
    "slv": _("Slovenian"),
    "som": _("Somali"),
    "srp": _("Serbian"),
    "sux": _("Sumerian"),
    "swa": _("Swahili"),
    "syr": _("Syriac"),
    "tam": _("Tamil"),
    "tel": _("Telugu"),
    "tgl": _("Tagalog"),
    "tha": _("Thai"),
    "tib": _("Tibetan"),
    "tir": _("Tigrinya"),
    "vie": _("Vietnamese"),
    "wel": _("Welsh"),
    "yid": _("Yiddish"),
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

# Contributor roles: the record keeps the relator code or term as catalogued
# (data); the page shows the common ones in the reader's language. Keys are
# MARC relator terms; codes and a few old abbreviations point at them.
ROLES = {
    "author": pgettext_lazy("contributor role", "author"),
    "joint author": pgettext_lazy("contributor role", "joint author"),
    "editor": pgettext_lazy("contributor role", "editor"),
    "illustrator": pgettext_lazy("contributor role", "illustrator"),
    "translator": pgettext_lazy("contributor role", "translator"),
    "composer": pgettext_lazy("contributor role", "composer"),
    "performer": pgettext_lazy("contributor role", "performer"),
    "conductor": pgettext_lazy("contributor role", "conductor"),
    "narrator": pgettext_lazy("contributor role", "narrator"),
    "photographer": pgettext_lazy("contributor role", "photographer"),
    "contributor": pgettext_lazy("contributor role", "contributor"),
    "director": pgettext_lazy("contributor role", "director"),
    "lyricist": pgettext_lazy("contributor role", "lyricist"),
    "arranger": pgettext_lazy("contributor role", "arranger"),
    "vocalist": pgettext_lazy("contributor role", "vocalist"),
    "singer": pgettext_lazy("contributor role", "singer"),
    "instrumentalist": pgettext_lazy("contributor role", "instrumentalist"),
    "publisher": pgettext_lazy("contributor role", "publisher"),
    "author of introduction": pgettext_lazy("contributor role", "author of introduction"),
    "compiler": pgettext_lazy("contributor role", "compiler"),
    "artist": pgettext_lazy("contributor role", "artist"),
}
ROLE_ALIASES = {
    "aut": "author", "edt": "editor", "ill": "illustrator", "trl": "translator",
    "cmp": "composer", "prf": "performer", "cnd": "conductor", "nrt": "narrator",
    "pht": "photographer", "ctb": "contributor", "drt": "director", "lyr": "lyricist",
    "arr": "arranger", "voc": "vocalist", "sng": "singer", "itr": "instrumentalist",
    "pbl": "publisher", "aui": "author of introduction", "com": "compiler", "art": "artist",
    "ed": "editor", "eds": "editor", "trans": "translator", "tr": "translator",
    "comp": "compiler", "jt. author": "joint author",
}  # fmt: skip

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


def role_label(role: str) -> str:
    """A contributor's role(s) for the page: known codes/terms translated, others as given."""
    shown = []
    for part in (role or "").split(","):
        part = part.strip()
        if not part:
            continue
        key = " ".join(part.lower().rstrip(".").split())
        key = ROLE_ALIASES.get(key, key)
        shown.append(str(ROLES[key]) if key in ROLES else part)
    return ", ".join(shown)
